"""Scenario 6: cancellation of a scheduled run, of a running run (SIGTERM, then SIGKILL after the
grace) and of a run whose worker is dead. Each ends Cancelled; none stays Cancelling.

The running run is cancelled on a server whose heartbeat is 10 s (the default): the worker must
learn of it through its cancellation watch (a long poll woken by the run's NOTIFY), not at its
next heartbeat. The dead worker's run needs the reaper, so it runs on the 3 s lease server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    LEASE,
    ledger_stack,
    running,
    server_process,
    started,
    wait_for,
)

pytestmark = pytest.mark.slow

HEARTBEAT = 10.0
CANCEL_GRACE = 2.0

# Appended to the ledger flows (flows/jobs.py of conftest.LEDGER_FLOWS).
STUBBORN_FLOW = """

import signal


@flow
def stubborn(seconds: float) -> None:
    # Notes SIGTERM in the ledger and carries on: only the worker's SIGKILL stops it.
    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]

    def note(event: str) -> None:
        _ledger(run=run_id, attempt=1, pid=os.getpid(), event=event, t=time.time())

    signal.signal(signal.SIGTERM, lambda signum, frame: note("sigterm"))
    note("start")
    time.sleep(seconds)  # resumed after the handler (PEP 475)
    note("end")
"""


@pytest.fixture(scope="module")
def slow_heartbeat_server(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("slow-heartbeat")
    with server_process(
        postgres, folder, heartbeat_seconds=str(HEARTBEAT), lease_seconds="30"
    ) as url:
        yield url


@pytest.fixture
def slow_stack(slow_heartbeat_server: str, tmp_path: Path) -> Iterator[Any]:
    with ledger_stack(slow_heartbeat_server, tmp_path) as stack:
        with open(stack.folder / "flows" / "jobs.py", "a") as jobs:
            jobs.write(STUBBORN_FLOW)
        yield stack


def events(ledger: Any, stack: Any, run_id: str) -> list[str]:
    return [e["event"] for e in ledger(stack.folder) if e["run"] == run_id]


def history(stack: Any, run_id: str) -> list[str]:
    return [s["type"] for s in stack.read(run_id)["states"]]


def test_06_a_cancelled_scheduled_run_is_cancelled_at_once_and_never_runs(
    slow_stack: Any, ledger: Any
) -> None:
    stack = slow_stack
    deployment = stack.deploy("once")
    run_id = stack.run(deployment, first=0)
    asked = time.monotonic()
    stack.cli("flow-run", "cancel", run_id)
    run = stack.read(run_id)
    took = time.monotonic() - asked
    assert run["state_type"] == "CANCELLED", run
    assert history(stack, run_id) == ["SCHEDULED", "CANCELLED"]
    # A worker of the pool then runs the next run, never the cancelled one.
    stack.start_worker("--pool", stack.pool)
    other = stack.run(deployment, first=0)
    assert stack.wait_state(other)["state_type"] == "COMPLETED"
    assert {e["run"] for e in ledger(stack.folder)} == {other}
    assert stack.read(run_id)["state_type"] == "CANCELLED"
    print(f"\n6a: scheduled run Cancelled by `headrace flow-run cancel` in {took:.2f} s")


def test_06_b_a_running_run_gets_sigterm_at_once_then_sigkill_after_the_grace(
    slow_stack: Any, ledger: Any
) -> None:
    stack = slow_stack
    deployment = stack.deploy("stubborn")
    stack.start_worker("--pool", stack.pool, HEADRACE_WORKER_CANCEL_GRACE_SECONDS=str(CANCEL_GRACE))
    run_id = stack.run(deployment, seconds=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    # The worker registered ~2 s ago: its next heartbeat is ~8 s away.
    asked, asked_wall = time.monotonic(), time.time()
    answer = stack.http.post(f"/flow_runs/{run_id}/cancel")
    assert answer.status_code == 200 and answer.json()["state_type"] == "CANCELLING", answer.text
    sigterm = wait_for(
        lambda: next(
            (e for e in ledger(stack.folder) if e["run"] == run_id and e["event"] == "sigterm"),
            None,
        ),
        HEARTBEAT + 5,
        "SIGTERM in the flow process",
    )
    latency = sigterm["t"] - asked_wall
    wait_for(lambda: not running(entry["pid"]), CANCEL_GRACE + 5, "the flow process killed")
    killed_after = time.monotonic() - asked
    run = stack.wait_state(run_id, timeout=10)
    done_after = time.monotonic() - asked
    assert run["state_type"] == "CANCELLED", run
    assert history(stack, run_id)[-2:] == ["CANCELLING", "CANCELLED"]
    assert events(ledger, stack, run_id) == ["start", "sigterm"]  # never reached its end
    logs = stack.http.get(f"/flow_runs/{run_id}/logs", params={"limit": 1000}).json()["items"]
    assert any("sending SIGKILL" in line["message"] for line in logs), logs
    print(
        f"\n6b: cancel -> SIGTERM in the flow {latency:.2f} s later (heartbeat {HEARTBEAT:g} s); "
        f"SIGKILL after the {CANCEL_GRACE:g} s grace, process gone {killed_after:.2f} s and "
        f"run Cancelled {done_after:.2f} s after the cancel"
    )
    assert latency < 1.5  # a heartbeat would have taken ~8 s
    assert killed_after >= CANCEL_GRACE


def test_06_c_a_run_whose_worker_is_dead_ends_cancelled_after_its_lease(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")  # retries=1: a cancelled run must not be retried
    doomed = stack.start_worker("--pool", stack.pool, "--name", "doomed")
    run_id = stack.run(deployment, first=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    doomed.kill()
    killed = time.monotonic()
    answer = stack.http.post(f"/flow_runs/{run_id}/cancel")
    assert answer.json()["state_type"] == "CANCELLING", answer.text  # it cannot know yet
    run = stack.wait_state(run_id, timeout=LEASE + 5)
    cancelled_after = time.monotonic() - killed
    assert run["state_type"] == "CANCELLED", run
    assert run["state_message"] == "cancelled; the worker that was stopping it is gone"
    assert run["run_count"] == 1 and "CRASHED" not in history(stack, run_id)
    assert not running(entry["pid"])  # it died with its worker
    # A worker serving the pool afterwards does not run it again.
    stack.start_worker("--pool", stack.pool, "--name", "next")
    other = stack.run(deployment, first=0)
    assert stack.wait_state(other)["state_type"] == "COMPLETED"
    assert events(ledger, stack, run_id) == ["start"]
    assert stack.read(run_id)["state_type"] == "CANCELLED"
    print(
        f"\n6c: dead worker's run cancelled -> Cancelled {cancelled_after:.2f} s after the kill "
        f"(lease {LEASE:g} s, by the reaper)"
    )
