"""A headrace installation spread over hosts (netns.py): the server on the API host bound to its
non-loopback address with auth on, workers and a CI host each in a namespace with its own folder,
talking to the API over the bridge. Also used by bench/remote_hosts.py (loaded by path)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HEADRACE = [sys.executable, "-m", "headrace.cli.main"]
# Short leases keep partition tests short: rescued 3 s after the last renewal.
FAST_SERVER = {
    "lease_seconds": "3",
    "heartbeat_seconds": "0.5",
    "reaper_interval_seconds": "0.5",
    "log_level": "warning",
}
FAST_WORKER = {
    "worker_shutdown_grace_seconds": "1",
    "worker_cancel_grace_seconds": "2",
    "worker_claim_wait_seconds": "2",
    "worker_connect_max_backoff_seconds": "1",
}

# The flow the tests count runs with: one ledger line per start and end of an attempt, saying
# which host and process ran it. It sleeps `seconds` on `slow_host` only (attempts elsewhere
# are quick; "any": everywhere), and is retried once, so a run rescued from a cut-off host
# runs again.
RECORD_FLOW = """
import json
import os
import time

from headrace import flow, task


@task
def double(n: int) -> int:
    return 2 * n


def note(ledger: str, event: str, n: int) -> None:
    entry = {
        "n": n,
        "run": os.environ["HEADRACE_FLOW_RUN_ID"],
        "host": os.environ["TEST_HOST_ROLE"],
        "pid": os.getpid(),
        "event": event,
        "t": time.time(),
    }
    with open(ledger, "a") as file:  # one short O_APPEND write: lines never interleave
        file.write(json.dumps(entry) + "\\n")


@flow(retries=1)
def record(ledger: str, n: int = 0, seconds: float = 0.0, slow_host: str = "") -> int:
    note(ledger, "start", n)
    if slow_host in (os.environ["TEST_HOST_ROLE"], "any"):
        time.sleep(seconds)
    result = double(n)
    note(ledger, "end", n)
    return result
"""


def settings_env(settings: dict[str, str]) -> dict[str, str]:
    return {f"HEADRACE_{k.upper()}": v for k, v in settings.items()}


@dataclass
class HostStack:
    hosts: dict[str, Any]  # role -> netns.Host; "api" is the API host
    database_url: str | None  # None: the server's embedded PostgreSQL (bench)
    port: int
    scheme: str = "http"
    ca_file: Path | None = None
    key: str = field(default_factory=lambda: "hr_" + secrets.token_urlsafe(32))
    server: subprocess.Popen[bytes] | None = None
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.scheme}://{self.hosts['api'].address}:{self.port}/api"

    def env(self, role: str, **settings: str) -> dict[str, str]:
        """The environment of a headrace process on host `role`."""
        host = self.hosts[role]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env.update(
            HEADRACE_API_URL=self.api_url,
            HEADRACE_API_KEY=self.key,
            HEADRACE_HOME=str(host.folder / "home"),
            # Plain http between the hosts of one machine; the TLS runs say https instead.
            HEADRACE_ALLOW_INSECURE_HTTP="true",
            TEST_HOST_ROLE=role,  # read by the test flows, to say where they ran
        )
        if self.ca_file is not None:
            env["HEADRACE_API_CA_FILE"] = str(self.ca_file)
        env.update(settings_env(settings))
        return env

    def start_api(self, tls: Any = None, wait: bool = True, **settings: str) -> None:
        """`headrace server start` on the API host's address, auth on, short leases."""
        host = self.hosts["api"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env.update(settings_env({**FAST_SERVER, **settings}))
        if self.database_url is not None:
            env["HEADRACE_DATABASE_URL"] = self.database_url
        env.update(
            HEADRACE_HOME=str(host.folder / "home"),
            HEADRACE_AUTH_ENABLED="true",
            HEADRACE_BOOTSTRAP_API_KEY=self.key,
        )
        argv = [*HEADRACE, "server", "start", "--host", host.address, "--port", str(self.port)]
        if tls is not None:
            argv += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
            self.scheme, self.ca_file = "https", tls.ca
        with open(host.folder / "server.log", "ab") as log:
            self.server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_api()

    def wait_api(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.server is not None and self.server.poll() is None, self.server_log()
            try:
                if self.http().get("/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the API at {self.api_url} did not answer: {self.server_log()}")

    @property
    def ledger_path(self) -> Path:
        return self.hosts["api"].folder / "ledger.jsonl"

    def ledger(self) -> list[dict[str, Any]]:
        path = self.ledger_path
        text = path.read_text() if path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def deploy_from_ci(self, files: dict[str, str], *deploy_args: str) -> None:
        """Deploy from a project folder on the CI host with --upload, then take the folder
        away: the worker hosts can only run what the bundle holds."""
        project = self.hosts["ci"].folder / "project"
        project.mkdir()
        for name, text in files.items():
            (project / name).write_text(text)
        deployed = self.cli("ci", "deploy", *deploy_args, "--upload", cwd=project)
        assert deployed.returncode == 0, deployed.stderr
        shutil.rmtree(project)

    def deploy_record(self, pool: str, create_pool: bool = True) -> None:
        """RECORD_FLOW deployed from the CI host as `record/d` in `pool`."""
        if create_pool:
            created = self.cli("ci", "work-pool", "create", "--type", "process", pool)
            assert created.returncode == 0, created.stderr
        self.deploy_from_ci({"jobs.py": RECORD_FLOW}, "jobs.py:record", "-n", "d", "-p", pool)

    def server_log(self) -> str:
        path = self.hosts["api"].folder / "server.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def http(self) -> httpx.Client:
        """A client of the API from the API host, with the admin key (the test's eyes)."""
        verify: Any = True if self.ca_file is None else _context(self.ca_file)
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
            verify=verify,
        )

    def start_worker(self, role: str, pool: str, *options: str, **settings: str) -> None:
        host = self.hosts[role]
        env = self.env(role, **{**FAST_WORKER, **settings})
        log = open(host.folder / "worker.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes.append(
            subprocess.Popen(
                host.command(
                    [*HEADRACE, "worker", "start", "--pool", pool, "--name", role, *options]
                ),
                cwd=host.folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()

    def cli(
        self, role: str, *args: str, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """A `headrace` command on host `role`, in its folder unless `cwd`."""
        host = self.hosts[role]
        return subprocess.run(
            host.command([*HEADRACE, *args]),
            cwd=cwd or host.folder,
            env=self.env(role),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def python(self, role: str, script: Path, *args: str, timeout: float = 300) -> str:
        """A Python script on host `role`; its stdout (it must succeed)."""
        host = self.hosts[role]
        done = subprocess.run(
            host.command([sys.executable, str(script), *args]),
            cwd=host.folder,
            env=self.env(role),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def stop(self) -> None:
        """SIGTERM the workers and other processes, then the server; SIGKILL whatever is still
        there 15 s later (a process cut off by a partition may not drain)."""
        for group in (self.processes, [self.server] if self.server else []):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in group:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(max(0.1, deadline - time.monotonic()))
                if process.poll() is None:
                    process.kill()
                    process.wait(5)
        self.processes, self.server = [], None


def _context(ca_file: Path) -> Any:
    import ssl

    return ssl.create_default_context(cafile=str(ca_file))
