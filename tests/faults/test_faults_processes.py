"""Faults of real processes: a real `headrace server start` (3 s lease, 0.5 s sweep and
heartbeat), real `headrace worker start` processes and flow processes, broken with real
signals. Every flow appends to an execution ledger (run id, attempt, pid, start, end), so
duplicates and overlaps are proven from what the user's code did, not guessed from states."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from typing import Any

import pytest

from tests.faults.conftest import LEASE, crashed, running, started, wait_for

pytestmark = pytest.mark.slow

# --- 2: the flow process killed, its worker alive ----------------------------------------------


def test_02_a_sigkilled_flow_process_is_crashed_within_a_second_with_its_signal(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("once")
    worker = stack.start_worker("--pool", stack.pool)
    run_id = stack.run(deployment, first=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    os.kill(entry["pid"], signal.SIGKILL)
    killed = time.monotonic()
    run = stack.wait_state(run_id, timeout=10)
    crashed_after = time.monotonic() - killed
    print(f"\n2: flow process SIGKILLed -> {run['state_type']} in {crashed_after:.2f} s")
    assert run["state_type"] == "CRASHED", run
    assert "signal 9 (SIGKILL)" in run["state_message"], run["state_message"]
    assert crashed_after < 1.0
    assert worker.poll() is None  # the worker lives on and serves the next run
    assert [e["event"] for e in ledger(stack.folder)] == ["start"]


# --- 4: fencing a worker frozen past its lease --------------------------------------------------


def test_04_a_worker_frozen_past_its_lease_is_fenced_and_the_new_attempt_stands(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")
    frozen = stack.start_worker("--pool", stack.pool, "--name", "frozen")
    run_id = stack.run(deployment, first=30, later=0.5)
    first = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    old_worker = stack.read(run_id)["worker_id"]
    # Freeze the worker and its flow process (its own process group) as a long GC pause would.
    os.kill(frozen.pid, signal.SIGSTOP)
    os.kill(first["pid"], signal.SIGSTOP)
    frozen_at = time.monotonic()
    wait_for(
        lambda: crashed(stack, run_id),
        LEASE + 5,
        "the rescue",
    )
    rescued_after = time.monotonic() - frozen_at
    stack.start_worker("--pool", stack.pool, "--name", "rescuer")
    run = stack.wait_state(run_id, timeout=30)
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
    os.kill(first["pid"], signal.SIGCONT)
    os.kill(frozen.pid, signal.SIGCONT)
    thawed = time.monotonic()
    # The thawed worker's next heartbeat learns it lost the run and stops attempt 1's process.
    wait_for(lambda: not running(first["pid"]), 10, "attempt 1's process stopped")
    stopped_after = time.monotonic() - thawed
    # Its final state for the old attempt is refused: the holder is no longer this worker.
    late = stack.http.post(
        f"/flow_runs/{run_id}/set_state",
        json={"state": {"type": "FAILED"}, "worker_id": old_worker},
    )
    assert late.status_code == 409, late.text
    after = stack.read(run_id)
    assert after["state_type"] == "COMPLETED" and after["run_count"] == 2
    entries = [(e["attempt"], e["event"]) for e in ledger(stack.folder) if e["run"] == run_id]
    # Attempt 1 never reached its end (it was stopped); attempt 2 ran once, start to end.
    assert sorted(entries) == [(1, "start"), (2, "end"), (2, "start")], entries
    assert frozen.poll() is None  # the fenced worker itself carries on
    print(
        f"\n4: frozen run rescued in {rescued_after:.2f} s (lease {LEASE} s); "
        f"old flow process stopped {stopped_after:.2f} s after SIGCONT"
    )


# --- 5: a healthy long run ---------------------------------------------------------------------


def test_05_a_healthy_run_lasting_five_leases_is_never_rescued_nor_duplicated(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")  # retries=1: a false rescue would start attempt 2
    stack.start_worker("--pool", stack.pool, "--name", "a")
    stack.start_worker("--pool", stack.pool, "--name", "b")
    runs = [stack.run(deployment, first=5 * LEASE + 0.5) for _ in range(2)]
    finished = [stack.wait_state(run_id, timeout=5 * LEASE + 20) for run_id in runs]
    for run in finished:
        assert run["state_type"] == "COMPLETED", run
        assert run["run_count"] == 1
        assert [s["type"] for s in run["states"]] == [
            "SCHEDULED",
            "PENDING",
            "RUNNING",
            "COMPLETED",
        ]
    entries = sorted((e["run"], e["attempt"], e["event"]) for e in ledger(stack.folder))
    assert entries == sorted((r, 1, event) for r in runs for event in ("start", "end")), entries


# --- 1: worker and flow process SIGKILLed -------------------------------------------------------


def test_01_a_sigkilled_worker_and_flow_are_crashed_and_attempt_2_runs_without_overlap(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")
    doomed = stack.start_worker("--pool", stack.pool, "--name", "doomed")
    run_id = stack.run(deployment, first=600, later=0.2)
    first = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    doomed.kill()
    os.kill(first["pid"], signal.SIGKILL)  # the flow runs in its own session: kill it too
    killed, killed_wall = time.monotonic(), time.time()
    wait_for(
        lambda: crashed(stack, run_id),
        LEASE + 5,
        "the crash",
    )
    crashed_after = time.monotonic() - killed
    rescued_by_attempt_2_without_overlap(stack, ledger, run_id, killed_wall)
    print(f"\n1: worker + flow SIGKILLed -> Crashed in {crashed_after:.2f} s (lease {LEASE} s)")
    assert crashed_after < LEASE + 0.5 + 1.5


# --- 3: a second SIGTERM ------------------------------------------------------------------------


def test_03_a_second_sigterm_kills_both_runs_which_crash_and_are_retried(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")
    worker = stack.start_worker(
        "--pool", stack.pool, "--limit", "2", HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="30"
    )
    runs = [stack.run(deployment, first=600, later=0.2) for _ in range(2)]
    firsts = [wait_for(partial(started, ledger, stack, r, 1), 30, "attempt 1") for r in runs]
    worker.send_signal(signal.SIGTERM)
    stack.wait_output(0, "stopping")
    worker.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert worker.wait(10) == 130
    wait_for(lambda: not any(running(e["pid"]) for e in firsts), 5, "the flow processes killed")
    for run_id in runs:  # nothing stays Running without a live lease
        wait_for(
            partial(crashed, stack, run_id),
            LEASE + 5,
            "the crash",
        )
    crashed_after = time.monotonic() - signalled
    stack.start_worker("--pool", stack.pool, "--name", "next")
    for run_id in runs:
        run = stack.wait_state(run_id, timeout=30)
        assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
    entries = sorted((e["run"], e["attempt"], e["event"]) for e in ledger(stack.folder))
    expected = [(r, 1, "start") for r in runs] + [
        (r, 2, ev) for r in runs for ev in ("start", "end")
    ]
    assert entries == sorted(expected), entries
    print(f"\n3: second SIGTERM -> both runs Crashed within {crashed_after:.2f} s, then retried")


# --- 13: the network between a worker and the API cut past the lease ---------------------------


def test_13_a_worker_cut_off_past_its_lease_keeps_its_flow_then_is_fenced(
    fault_stack: Any, ledger: Any, cuttable_proxy: Any
) -> None:
    stack = fault_stack
    proxy, through_proxy = cuttable_proxy(stack.url)
    deployment = stack.deploy("twice")
    # The worker and its flow process reach the API only through the proxy.
    stack.start_worker("--pool", stack.pool, "--name", "far", HEADRACE_API_URL=through_proxy)
    run_id = stack.run(deployment, first=600, later=0.2)
    first = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    proxy.cut()
    cut_at = time.monotonic()
    # The lease runs out within LEASE s of the cut; the rest is slack for a loaded CI machine.
    wait_for(lambda: crashed(stack, run_id), LEASE + 20, "the rescue")
    rescued_after = time.monotonic() - cut_at
    stack.start_worker("--pool", stack.pool, "--name", "near")
    run = stack.wait_state(run_id, timeout=30)
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
    # Cut off, the worker kept its flow running (it cannot know whether the API is gone).
    assert running(first["pid"])
    proxy.restore()
    restored = time.monotonic()
    wait_for(lambda: not running(first["pid"]), 10, "attempt 1's process stopped")
    fenced_after = time.monotonic() - restored
    assert stack.read(run_id)["state_type"] == "COMPLETED"
    assert stack.workers[0].poll() is None
    entries = sorted((e["attempt"], e["event"]) for e in ledger(stack.folder) if e["run"] == run_id)
    assert entries == [(1, "start"), (2, "end"), (2, "start")], entries
    print(
        f"\n13: cut worker's run rescued {rescued_after:.2f} s after the cut (lease {LEASE} s); "
        f"its flow process stopped {fenced_after:.2f} s after the network came back"
    )


def test_13_b_a_cut_shorter_than_the_lease_leaves_the_run_with_its_worker(
    fault_stack: Any, ledger: Any, cuttable_proxy: Any
) -> None:
    stack = fault_stack
    proxy, through_proxy = cuttable_proxy(stack.url)
    deployment = stack.deploy("twice")
    stack.start_worker("--pool", stack.pool, "--name", "far", HEADRACE_API_URL=through_proxy)
    run_id = stack.run(deployment, first=4, later=0.2)
    wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    proxy.cut()
    time.sleep(LEASE / 3)  # the fault itself: a third of the lease without any network
    proxy.restore()
    restored = time.monotonic()
    run = stack.wait_state(run_id, timeout=30)
    finished_after = time.monotonic() - restored
    # Heartbeats failed during the cut and resumed after it, before the lease ran out: the run
    # was never rescued, ran once and its outcome came through the healed network.
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 1, run
    assert "CRASHED" not in [s["type"] for s in run["states"]]
    entries = sorted((e["attempt"], e["event"]) for e in ledger(stack.folder) if e["run"] == run_id)
    assert entries == [(1, "end"), (1, "start")], entries
    print(
        f"\n13b: a {LEASE / 3:.1f} s cut (lease {LEASE} s): run kept by its worker, Completed "
        f"{finished_after:.2f} s after the network came back, run_count 1"
    )


# --- 1b: the worker SIGKILLed alone: its flow process dies with it ------------------------------


def test_01b_a_worker_sigkilled_alone_takes_its_flow_process_with_it(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")
    doomed = stack.start_worker("--pool", stack.pool, "--name", "doomed")
    run_id = stack.run(deployment, first=600, later=0.2)
    first = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "attempt 1")
    doomed.kill()  # the worker only: the flow runs in its own session, out of the kill's reach
    killed, killed_wall = time.monotonic(), time.time()
    wait_for(lambda: not running(first["pid"]), 5, "the orphaned flow process gone")
    gone_after = time.monotonic() - killed
    wait_for(lambda: crashed(stack, run_id), LEASE + 5, "the crash")
    crashed_after = time.monotonic() - killed
    rescued_by_attempt_2_without_overlap(stack, ledger, run_id, killed_wall)
    print(
        f"\n1b: worker SIGKILLed alone -> its flow process gone in {gone_after:.2f} s, "
        f"run Crashed in {crashed_after:.2f} s (lease {LEASE} s), attempt 2 completed"
    )
    assert gone_after < 2.0


# --- 3: a first SIGTERM with two runs in flight -------------------------------------------------


def test_03_a_sigterm_lets_two_runs_finish_claims_nothing_new_and_exits_0(
    fault_stack: Any, ledger: Any
) -> None:
    stack = fault_stack
    deployment = stack.deploy("twice")
    # Room for a third run, and a claim long poll (30 s) still waiting on the server when the
    # third run arrives: only the worker's word that it is stopping keeps the run from it.
    worker = stack.start_worker(
        "--pool",
        stack.pool,
        "--limit",
        "3",
        HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="30",
        HEADRACE_WORKER_CLAIM_WAIT_SECONDS="30",
    )
    runs = [stack.run(deployment, first=3) for _ in range(2)]
    for run_id in runs:
        wait_for(partial(started, ledger, stack, run_id, 1), 30, "attempt 1")
    worker.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    stack.wait_output(0, "the server hands this worker no more runs")
    third = stack.run(deployment, first=0)
    assert worker.wait(30) == 0
    exited_after = time.monotonic() - signalled
    for run_id in runs:
        run = stack.read(run_id)
        assert run["state_type"] == "COMPLETED" and run["run_count"] == 1, run
    left = stack.read(third)
    # Never claimed (not even claimed and given back): its history is its creation alone.
    assert left["state_type"] == "SCHEDULED" and left["worker_id"] is None, left
    assert [s["type"] for s in left["states"]] == ["SCHEDULED"]
    entries = sorted((e["run"], e["attempt"], e["event"]) for e in ledger(stack.folder))
    assert entries == sorted((r, 1, ev) for r in runs for ev in ("start", "end")), entries
    print(
        f"\n3: first SIGTERM with 2 runs -> both Completed, worker exited 0 "
        f"{exited_after:.2f} s after the signal (grace 30 s); the third run stayed Scheduled"
    )
    stack.start_worker("--pool", stack.pool, "--name", "next")
    assert stack.wait_state(third, timeout=30)["state_type"] == "COMPLETED"


def rescued_by_attempt_2_without_overlap(
    stack: Any, ledger: Any, run_id: str, killed_wall: float
) -> None:
    """A rescuer worker completes attempt 2; attempt 1 never ended, and attempt 2 began after
    the kill (the ledger proves no overlap, which states alone cannot)."""
    stack.start_worker("--pool", stack.pool, "--name", "rescuer")
    run = stack.wait_state(run_id, timeout=30)
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
    entries = [e for e in ledger(stack.folder) if e["run"] == run_id]
    assert sorted((e["attempt"], e["event"]) for e in entries) == [
        (1, "start"),
        (2, "end"),
        (2, "start"),
    ]
    second = next(e for e in entries if e["attempt"] == 2 and e["event"] == "start")
    assert second["t"] > killed_wall
