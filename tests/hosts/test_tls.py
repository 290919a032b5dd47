"""TLS on the wire: `headrace server start --tls-cert/--tls-key` with a CA of the test's own;
clients verify with HEADRACE_API_CA_FILE (or the system store); an API key never goes over
plain http to another host unless HEADRACE_ALLOW_INSECURE_HTTP says so."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_probe import imported_by, under

CLI = [sys.executable, "-m", "headrace.cli.main"]

FLOWS = """
from headrace import flow, task


@task
def shout(word: str) -> str:
    return word.upper()


@flow
def hello(who: str = "tls") -> str:
    return shout(who)
"""


def client_env(url: str, home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=url, HEADRACE_HOME=str(home))
    env.update({f"HEADRACE_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60) -> Any:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class HttpsServer:
    url: str
    port: int
    tls: Any  # certs.ServerCertificate


@pytest.fixture
def https_server(
    start_server: Callable[..., Any], database_url: str, tmp_path: Path, certs: Any
) -> Callable[..., HttpsServer]:
    """`https_server(names)`: a real `headrace server start --tls-cert/--tls-key` whose
    certificate (from a CA of the test's own) names `names`; returned once it answers."""

    def start(names: list[str]) -> HttpsServer:
        tls = certs.make_server_certificate(tmp_path / "tls", names)
        server = start_server(
            database_url=database_url,
            wait=False,
            tls_cert_file=str(tls.cert),
            tls_key_file=str(tls.key),
        )
        url = f"https://127.0.0.1:{server.port}/api"
        # Our CA, whatever names the certificate holds: the tests judge the names themselves.
        context = ssl.create_default_context(cafile=str(tls.ca))
        context.check_hostname = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.process.poll() is None, server.process.stdout.read()
            try:
                if httpx.get(url + "/health", verify=context, timeout=1).status_code == 200:
                    return HttpsServer(url, server.port, tls)
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"no https answer from {url}")

    return start


def test_https_server_serves_a_worker_and_the_cli_that_trust_its_ca(
    https_server: Callable[..., HttpsServer], tmp_path: Path
) -> None:
    server = https_server(["127.0.0.1"])
    url, tls = server.url, server.tls
    # The port speaks TLS only: a plain http client gets no answer from it.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/api/health", timeout=5)

    code = tmp_path / "code"
    code.mkdir()
    (code / "hello.py").write_text(FLOWS)
    env = client_env(url, tmp_path / "home", api_ca_file=str(tls.ca))
    env["HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS"] = "1"
    assert run_cli("work-pool", "create", "--type", "process", "tls", env=env).returncode == 0
    deployed = run_cli("deploy", "hello.py:hello", "-n", "d", "-p", "tls", env=env, cwd=code)
    assert deployed.returncode == 0, deployed.stderr
    worker = subprocess.Popen(
        [*CLI, "worker", "start", "--pool", "tls"],
        env=env,
        cwd=code,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The flow process the worker starts reports over https with the same CA.
        watched = run_cli("deployment", "run", "hello/d", "--watch", env=env, timeout=120)
        assert watched.returncode == 0, (watched.stdout, watched.stderr)
        assert "Completed" in watched.stdout
    finally:
        worker.terminate()
        worker.wait(30)


@pytest.mark.parametrize("trust", ["another CA", "the system store"])
def test_a_worker_that_does_not_trust_the_certificate_stops_in_one_line(
    trust: str, https_server: Callable[..., HttpsServer], tmp_path: Path, certs: Any
) -> None:
    url = https_server(["127.0.0.1"]).url
    settings = {"api_ca_file": str(certs.make_ca(tmp_path / "other", "other-ca")[0])}
    env = client_env(url, tmp_path / "home", **(settings if trust == "another CA" else {}))

    # It does not wait for an API that will never become trustworthy: it stops at once.
    started = time.monotonic()
    worker = run_cli("worker", "start", "--pool", "p", "--type", "process", env=env, timeout=60)
    assert time.monotonic() - started < 30
    assert worker.returncode == 2
    assert worker.stderr.count("\n") == 1, worker.stderr
    assert f"error: the TLS certificate of {url} is not trusted" in worker.stderr
    assert "set HEADRACE_API_CA_FILE to the certificate of the CA that signed it" in worker.stderr


def test_a_certificate_for_another_address_is_named_as_such(
    https_server: Callable[..., HttpsServer], tmp_path: Path
) -> None:
    server = https_server(["api.example.internal"])
    url = server.url
    env = client_env(url, tmp_path / "home", api_ca_file=str(server.tls.ca))
    listed = run_cli("flow-run", "ls", env=env)
    assert listed.returncode == 2
    assert listed.stderr.count("\n") == 1, listed.stderr
    assert f"the TLS certificate of {url} does not name its host" in listed.stderr


def test_tls_settings_that_cannot_work_stop_the_server_in_one_line(
    tmp_path: Path, certs: Any
) -> None:
    other = certs.make_server_certificate(tmp_path / "other", ["127.0.0.1"])
    tls = certs.make_server_certificate(tmp_path / "tls", ["127.0.0.1"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_HOME"] = str(tmp_path / "home")
    cases = {
        ("--tls-cert", str(tls.cert)): "--tls-cert needs --tls-key",
        ("--tls-key", str(tls.key)): "--tls-key needs --tls-cert",
        ("--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(tls.key)): "no such file",
        ("--tls-cert", str(tls.cert), "--tls-key", str(other.key)): "cannot serve https with",
    }
    for args, message in cases.items():
        started = run_cli("server", "start", *args, env=env)
        assert started.returncode == 2, (args, started.stderr)
        assert started.stderr.count("\n") == 1, started.stderr
        assert message in started.stderr, started.stderr


@pytest.mark.parametrize("command", [["flow-run", "ls"], ["worker", "start", "--pool", "p"]])
def test_an_api_key_is_not_sent_over_plain_http_to_another_host(
    command: list[str], tmp_path: Path
) -> None:
    # Nothing listens there: the refusal comes before any connection.
    url = "http://10.255.255.1:4200/api"
    env = client_env(url, tmp_path / "home", api_key="hr_" + "k" * 40, client_timeout_seconds="1")
    refused = run_cli(*command, env=env)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: refusing to send the API key over plain http to {url}: use an https:// URL "
        "(the server's --tls-cert/--tls-key, or a TLS proxy in front of it), or set "
        "HEADRACE_ALLOW_INSECURE_HTTP=true if the network is private and trusted\n"
    )
    # Without a key there is nothing to protect; on loopback the key never leaves the host.
    for settings in ({"api_key": ""}, {"api_url": "http://localhost:1/api"}):
        env = client_env(
            url, tmp_path / "home", api_key="hr_" + "k" * 40, client_timeout_seconds="1"
        )
        env.update({f"HEADRACE_{k.upper()}": v for k, v in settings.items()})
        answered = run_cli("flow-run", "ls", env=env, timeout=90)
        assert "refusing to send" not in answered.stderr


def test_work_pool_ls_over_https_is_quick_and_refuses_what_the_typed_command_refuses(
    https_server: Callable[..., HttpsServer], tmp_path: Path, certs: Any
) -> None:
    server = https_server(["127.0.0.1"])
    env = client_env(server.url, tmp_path / "home", api_ca_file=str(server.tls.ca))
    assert run_cli("work-pool", "create", "secure", env=env).returncode == 0
    # The quick command (headrace.cli.quick) answers over https, without httpx...
    printed, modules = imported_by(["work-pool", "ls"], env)
    assert "secure" in printed and under(modules, "httpx") == []
    # ... as the typed command does (which answers when a setting the quick one leaves is set).
    typed = {**env, "HEADRACE_CLIENT_RETRIES": "1"}
    assert (
        run_cli("work-pool", "ls", env=env).stdout == run_cli("work-pool", "ls", env=typed).stdout
    )
    # A CA that did not sign the certificate: the typed command's one-line error.
    other = str(certs.make_ca(tmp_path / "other", "other-ca")[0])
    for variables in (env, typed):
        refused = run_cli("work-pool", "ls", env={**variables, "HEADRACE_API_CA_FILE": other})
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"error: the TLS certificate of {server.url} is not trusted" in refused.stderr
