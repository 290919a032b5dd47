"""Failover between API replicas: HEADRACE_API_URL lists two `headrace server start` processes on
one database; the replica in use is SIGKILLed while a worker, its flow processes and a script
work through it, and they all go on through the other one. Also how the client moves between
replicas, and the one-line error for a bad URL in the list."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from headrace.client import HeadraceClient
from headrace.errors import ApiUnreachable
from headrace.settings import client_settings

# Leases far longer than the failover: a worker that moves to the other replica keeps its runs.
REPLICA = {"lease_seconds": "15", "heartbeat_seconds": "0.5", "log_level": "warning"}
RUNS = 6
FLOW_STEPS = 10  # 0.2 s each: every run spans the kill
SCRIPT_STEPS = 16  # 0.25 s each


def heartbeats_after(http: httpx.Client, pool: str, moment: datetime) -> list[datetime]:
    workers = http.get(f"/work_pools/{pool}/workers").json()
    beats = [datetime.fromisoformat(w["last_heartbeat"]) for w in workers]
    return [beat for beat in beats if beat > moment]


@pytest.mark.slow
def test_12_workers_and_scripts_fail_over_to_the_other_replica(
    database_url: str,  # first: dropped after the servers stopped
    start_server: Any,
    tmp_path: Path,
    make_ledger_stack: Any,
    add_steady_flow: Any,
    ledger: Any,
    ledger_faults: Any,
    stepping_script: Any,
) -> None:
    doomed = start_server(database_url=database_url, **REPLICA)
    survivor = start_server(database_url=database_url, **REPLICA)
    both = f"{doomed.url},{survivor.url}"  # the doomed one first: everyone starts on it
    with make_ledger_stack(survivor.url, tmp_path) as stack:
        stack.env["HEADRACE_API_URL"] = both
        add_steady_flow(stack)
        deployment = stack.deploy("steady")
        stack.start_worker("--pool", stack.pool)
        stack.wait_output(0, f"from {both}")
        runs = [stack.run(deployment, steps=FLOW_STEPS, pause=0.2) for _ in range(RUNS)]
        script = stepping_script(both, SCRIPT_STEPS)
        script.wait_started()
        deadline = time.monotonic() + 30
        while len({e["run"] for e in ledger(stack.folder)}) < RUNS:
            assert time.monotonic() < deadline, stack.worker_output(0)[-3000:]
            time.sleep(0.05)
        assert not {e["run"] for e in ledger(stack.folder) if e["event"] == "end"}, "too late"

        doomed.process.kill()  # SIGKILL: its connections are cut, requests in flight lost
        doomed.process.wait(10)
        killed, killed_at = time.monotonic(), datetime.now().astimezone()
        # The worker's next heartbeat arrives through the survivor.
        while not heartbeats_after(stack.http, stack.pool, killed_at):
            assert time.monotonic() - killed < 10, stack.worker_output(0)[-3000:]
            time.sleep(0.02)
        worker_failover = min(heartbeats_after(stack.http, stack.pool, killed_at)) - killed_at
        # A client that starts on the dead replica: its first request is answered by the other.
        sent = time.monotonic()
        with HeadraceClient(both) as client:
            client.get_json("/flow_runs", params={"limit": 1})
            assert client.current_url == survivor.url
        client_failover = time.monotonic() - sent

        finished = [stack.wait_state(run_id, timeout=60) for run_id in runs]
        # New runs are claimed through the survivor, their processes told to start on it.
        later = [stack.run(deployment, steps=1, pause=0) for _ in range(2)]
        finished += [stack.wait_state(run_id, timeout=30) for run_id in later]
        script.finish()
        logs = {r: stack.http.get(f"/flow_runs/{r}/logs", params={"limit": 1000}) for r in runs}
        entries = ledger(stack.folder)
        worker_output = stack.worker_output(0)
    script.assert_all_recorded(survivor.url)
    print(
        f"\n12 (failover): worker heartbeating through the other replica "
        f"{worker_failover.total_seconds():.2f} s after the kill; a new client's first request "
        f"{client_failover:.2f} s; {RUNS} runs in flight and a script completed through it"
    )
    assert worker_failover.total_seconds() < 5
    assert [(r["state_type"], r["run_count"]) for r in finished] == [("COMPLETED", 1)] * len(
        finished
    ), [(r["id"], r["state_name"], r["state_message"]) for r in finished]
    assert not ledger_faults(entries), ledger_faults(entries)
    assert {e["run"] for e in entries} == {*runs, *later}
    for run_id in runs:
        messages = {entry["message"] for entry in logs[run_id].json()["items"]}
        assert {f"step {i}" for i in range(FLOW_STEPS)} <= messages, (run_id, sorted(messages))
    assert f"the headrace API at {doomed.url} failed" in worker_output
    assert "Traceback" not in worker_output, worker_output[-3000:]


# --- How the client moves between replicas (one server in this process, no subprocess) -------


class Unavailable(BaseHTTPRequestHandler):
    """A replica that is up but cannot serve: every request is a 503 asking to come back later."""

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(503)
        self.send_header("Retry-After", "30")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def unavailable_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    """An URL nobody listens on: connections are refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/api"


def test_the_client_moves_to_the_next_replica_on_a_refused_connection_or_a_503(
    live_server: Any, unavailable_url: str
) -> None:
    dead = closed_port_url()
    with HeadraceClient(f"{dead}, {unavailable_url}/ ,{live_server.url}", retries=2) as client:
        assert client.api_url == f"{dead},{unavailable_url},{live_server.url}"
        sent = time.monotonic()
        assert client.get_json("/flow_runs", params={"limit": 1})["items"] == []
        # Not a second of the 503's Retry-After: a replica not yet tried is tried at once.
        assert time.monotonic() - sent < 5
        assert client.current_url == live_server.url
        # It stays with the replica that answers; processes it starts begin there too.
        assert client.api_url_setting() == f"{live_server.url},{dead},{unavailable_url}"
        assert client.health()


def test_when_no_replica_can_serve_the_client_gives_up_naming_them_all(
    unavailable_url: str,
) -> None:
    dead = closed_port_url()
    with HeadraceClient(f"{dead},{unavailable_url}", retries=0) as client:
        with pytest.raises(ApiUnreachable, match=f"at {dead},{unavailable_url}: "):
            client.request("GET", "/flow_runs")
        assert not client.health()  # each asked once: refused, then 503


def test_a_bad_url_in_the_list_is_a_one_line_error_naming_it(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = "htp://replica-b:4200/api"
    env = {
        "PATH": "/usr/bin:/bin",
        "HEADRACE_HOME": str(tmp_path),
        "HEADRACE_API_URL": f"{live_server.url},{bad}",
    }
    for command in (["work-pool", "ls"], ["worker", "start", "--pool", "p"]):
        result = subprocess.run(
            [sys.executable, "-m", "headrace.cli.main", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: invalid HEADRACE_API_URL: "), result.stderr
        assert repr(bad) in result.stderr
    stored = subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", "config", "set", f"api_url={live_server.url},"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stored.returncode == 2 and "an empty URL" in stored.stderr, stored.stderr
    # The SDK says the same when a script or a worker builds its client.
    monkeypatch.setenv("HEADRACE_API_URL", f"{live_server.url},{bad}")
    client_settings.cache_clear()
    with pytest.raises(ValueError, match="invalid HEADRACE_API_URL: 'htp://replica-b"):
        HeadraceClient()
