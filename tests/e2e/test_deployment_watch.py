"""`headrace deployment run ... --watch` against a real server and worker: it streams the run's
states and logs and exits 0 Completed, 1 Failed, 130 Cancelled, 124 on --timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from headrace._state_types import StateType
from headrace.cli.watch import EXIT_CODES, TIMED_OUT

pytestmark = pytest.mark.slow


def test_watch_exit_codes_for_each_outcome(deployment_stack: Callable[..., Any]) -> None:
    # One server and worker for the four outcomes: starting them is the slow part.
    stack = deployment_stack()
    greet, boom, nap = stack.deploy("greet"), stack.deploy("boom"), stack.deploy("nap")
    stack.start_worker()

    done = stack.cli("deployment", "run", greet, "--param", "who=ci", "--watch", check=False)
    assert done.returncode == 0, done
    out = done.stdout
    # Every state in order, even those that lasted less than a poll, then the outcome.
    states = [line.split("state: ")[1] for line in out.splitlines() if " state: " in line]
    assert states == ["Scheduled", "Pending", "Running", "Completed"], out
    assert "hello ci" in out  # the flow's own output, forwarded by the worker
    assert out.rstrip().splitlines()[-1].endswith("finished Completed"), out

    failed = stack.cli("deployment", "run", boom, "--watch", check=False)
    assert failed.returncode == 1, failed
    assert "boom on purpose" in failed.stdout and "state: Failed" in failed.stdout

    timed_out = stack.cli(
        "deployment",
        "run",
        nap,
        "--param",
        "seconds=30",
        "--watch",
        "--timeout",
        "1",
        check=False,
    )
    assert timed_out.returncode == TIMED_OUT == 124, timed_out
    run_id = timed_out.stdout.split()[1]
    assert "still" in timed_out.stdout and "--timeout" in timed_out.stdout
    # Watching stopped; the run did not.
    assert stack.read(run_id)["state_type"] in {"SCHEDULED", "PENDING", "RUNNING"}
    stack.http.post(f"/flow_runs/{run_id}/cancel").raise_for_status()


def test_watch_exits_130_when_the_run_is_cancelled(deployment_stack: Callable[..., Any]) -> None:
    stack = deployment_stack()
    nap = stack.deploy("nap")
    stack.start_worker()
    watcher = stack.spawn(
        "deployment", "run", nap, "--param", "seconds=60", "--watch", "--idempotency-key", "build-7"
    )
    try:
        assert watcher.stdout is not None
        run_id = watcher.stdout.readline().split()[1]
        deadline = time.monotonic() + 30
        while stack.read(run_id)["state_type"] != "RUNNING":
            assert time.monotonic() < deadline, stack.read(run_id)
            time.sleep(0.1)
        stack.http.post(f"/flow_runs/{run_id}/cancel").raise_for_status()
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == EXIT_CODES[StateType.CANCELLED] == 130, (out, err)
    assert "napping" in out and "finished Cancelled" in out
    # The same idempotency key names the same run, without starting a second one.
    again = stack.cli(
        "deployment", "run", nap, "--param", "seconds=60", "--idempotency-key", "build-7"
    )
    assert again.stdout.strip() == run_id


def test_timeout_without_watch_is_a_one_line_error() -> None:
    # Refused before any request: no server needed (nothing listens on port 9).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "headrace.cli.main",
            "deployment",
            "run",
            "greet/d",
            "--timeout",
            "5",
        ],
        env={**os.environ, "HEADRACE_API_URL": "http://127.0.0.1:9/api"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: --timeout: it limits --watch; add --watch, e.g. --watch --timeout 600\n"
    )


def test_watch_outlives_a_server_restart(
    deployment_stack: Callable[..., Any], start_server: Callable[..., Any], database_url: str
) -> None:
    stack = deployment_stack()
    nap = stack.deploy("nap")
    watcher = stack.spawn("deployment", "run", nap, "--param", "seconds=0.1", "--watch")
    try:
        assert watcher.stdout is not None
        watcher.stdout.readline()  # run ... of ...
        assert "state: Scheduled" in watcher.stdout.readline()
        stack.server.stop()
        time.sleep(1)  # the watcher finds nobody there and retries
        start_server(database_url=database_url, port=stack.server.port, log_level="warning")
        stack.start_worker()
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, (out, err)
    assert out.rstrip().endswith("finished Completed"), out
