"""A worker frozen alone (SIGSTOP of its PID only): its flow process keeps running, the lease
expires, another worker starts attempt 2. The flow process must learn that its lease is gone
and stop within a few seconds, without recording anything, so two attempts of one run overlap
for seconds at most, not until attempt 1's end (issue 20).

The flow ticks: each attempt appends a ledger line per half second, so the overlap of the two
attempts is measured from what the user's code did."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from typing import Any

import pytest

from tests.faults.conftest import LEASE, crashed, running, started, wait_for

pytestmark = pytest.mark.slow

TICKING_FLOW = """

@flow(retries=1)
def ticking(first: float, later: float = 0.0) -> int:
    import subprocess

    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]
    run = httpx.get(f"{os.environ['HEADRACE_API_URL']}/flow_runs/{run_id}").json()
    attempt = run["run_count"]
    child = subprocess.Popen(["sleep", "60"])  # a process of the flow's own
    _ledger(
        run=run_id, attempt=attempt, pid=os.getpid(), child=child.pid, event="start", t=time.time()
    )
    deadline = time.time() + (first if attempt == 1 else later)
    while time.time() < deadline:
        _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="tick", t=time.time())
        time.sleep(0.5)
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="end", t=time.time())
    return attempt


@flow(retries=1)
def ticking_stubborn(first: float, later: float = 0.0) -> int:
    # Swallows every interruption, SIGTERM's included: only the lease watch's exit stops it.
    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]
    run = httpx.get(f"{os.environ['HEADRACE_API_URL']}/flow_runs/{run_id}").json()
    attempt = run["run_count"]
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="start", t=time.time())
    deadline = time.time() + (first if attempt == 1 else later)
    while time.time() < deadline:
        try:
            _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="tick", t=time.time())
            time.sleep(0.5)
        except BaseException:
            pass
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="end", t=time.time())
    return attempt


@flow(retries=1)
async def ticking_async(first: float, later: float = 0.0) -> int:
    import asyncio

    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]
    run = httpx.get(f"{os.environ['HEADRACE_API_URL']}/flow_runs/{run_id}").json()
    attempt = run["run_count"]
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="start", t=time.time())
    deadline = time.time() + (first if attempt == 1 else later)
    while time.time() < deadline:
        _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="tick", t=time.time())
        await asyncio.sleep(0.5)
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="end", t=time.time())
    return attempt
"""

# The bound of the issue: two attempts of one run may overlap for less than this.
MAX_OVERLAP_SECONDS = 5.0


@pytest.mark.parametrize("function", ["ticking", "ticking_async", "ticking_stubborn"])
def test_20_a_frozen_workers_flow_process_stops_when_its_lease_is_taken_over(
    fault_stack: Any, ledger: Any, function: str
) -> None:
    stack = fault_stack
    with open(stack.folder / "flows" / "jobs.py", "a") as jobs:
        jobs.write(TICKING_FLOW)
    deployment = stack.deploy(function)
    frozen = stack.start_worker("--pool", stack.pool, "--name", "frozen")
    run_id = stack.run(deployment, first=40, later=3)
    first = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    old_worker = stack.read(run_id)["worker_id"]
    # The worker alone: its flow process (its own session) goes on ticking.
    os.kill(frozen.pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        wait_for(lambda: crashed(stack, run_id), LEASE + 10, "the rescue")
        rescued_after = time.monotonic() - frozen_at
        stack.start_worker("--pool", stack.pool, "--name", "rescuer")
        run = stack.wait_state(run_id, timeout=40)
        assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
        # Attempt 1's process stopped by itself (and the processes it started, if any): its
        # worker is still frozen.
        wait_for(lambda: not running(first["pid"]), 10, "attempt 1's process stopped")
        if "child" in first:
            wait_for(lambda: not running(first["child"]), 10, "attempt 1's own process stopped")
        # A state attempt 1 would still send is refused: the run is no longer its worker's.
        late = stack.http.post(
            f"/flow_runs/{run_id}/set_state",
            json={"state": {"type": "FAILED"}, "worker_id": old_worker},
        )
        assert late.status_code == 409, late.text
        assert "no longer holds the run" in late.json()["detail"], late.text
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    # Thawed, the worker finds its flow process gone (or kills it, whichever comes first:
    # its heartbeat says the run is lost) and reports nothing into the run attempt 2 owns.
    stack.wait_output(0, f"run {run_id} ended", timeout=10)
    entries = [e for e in ledger(stack.folder) if e["run"] == run_id]
    last_of_1 = max(e["t"] for e in entries if e["attempt"] == 1)
    first_of_2 = min(e["t"] for e in entries if e["attempt"] == 2)
    overlap = last_of_1 - first_of_2
    rescue = next(s for s in stack.read(run_id)["states"] if s["type"] == "CRASHED")
    stopped_after = last_of_1 - datetime.fromisoformat(rescue["timestamp"]).timestamp()
    print(
        f"\n20 ({function}): frozen worker's run rescued {rescued_after:.2f} s after the freeze "
        f"(lease {LEASE} s); attempt 1's last tick {stopped_after:.2f} s after the rescue "
        f"and {overlap:+.2f} s after attempt 2's first"
    )
    # The user sees why attempt 1 stopped in the run's logs.
    logs = stack.http.get(f"/flow_runs/{run_id}/logs", params={"limit": 1000}).json()["items"]
    assert any("this attempt lost the run" in line["message"] for line in logs), logs
    # Nothing of attempt 1's end was reported into the run attempt 2 now owns, and it stopped
    # quietly (no traceback in its output).
    messages = "\n".join(line["message"] for line in logs)
    assert "without reporting a final state" not in messages, messages
    assert "Traceback" not in messages and "exception=" not in messages, messages
    # Attempt 1 never ended (it was stopped); attempt 2 ran once, start to end.
    events = sorted({(e["attempt"], e["event"]) for e in entries})
    assert events == [(1, "start"), (1, "tick"), (2, "end"), (2, "start"), (2, "tick")], events
    assert overlap < MAX_OVERLAP_SECONDS
    after = stack.read(run_id)
    assert after["state_type"] == "COMPLETED" and after["run_count"] == 2, after
