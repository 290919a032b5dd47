"""Partitions between hosts: a worker host's link goes down (tests/hosts/netns.py), for less
than the lease and for longer. Leases are 3 s here (stack.FAST_SERVER), heartbeats 0.5 s."""

from __future__ import annotations

import time
from typing import Any

from tests.hosts.runs import TERMINAL, running, started_on, state_of, trigger, wait_for

LEASE = 3.0


def test_a_cut_shorter_than_the_lease_leaves_the_runs_with_their_host(host_stack: Any) -> None:
    stack = host_stack
    stack.start_api()
    stack.deploy_record("short")
    stack.start_worker("w1", "short")
    stack.start_worker("w2", "short")
    with stack.http() as http:
        run_id = trigger(http, stack, 0, seconds=4, slow_host="any")
        wait_for(
            lambda: started_on(stack, run_id, "w1") or started_on(stack, run_id, "w2"), 30, "start"
        )
        # Whichever host took it: cut that one for a third of the lease.
        host = "w1" if started_on(stack, run_id, "w1") else "w2"
        stack.hosts[host].cut()
        time.sleep(LEASE / 3)
        stack.hosts[host].heal()
        healed = time.monotonic()
        run = wait_for(
            lambda: (r := state_of(http, run_id))["state_type"] in TERMINAL and r, 30, "the end"
        )
        finished_after = time.monotonic() - healed
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 1, run
    assert "CRASHED" not in [s["type"] for s in run["states"]]
    events = sorted((e["host"], e["event"]) for e in stack.ledger() if e["run"] == run_id)
    assert events == [(host, "end"), (host, "start")], events
    print(
        f"\nshort cut: {LEASE / 3:.1f} s cut of {host} (lease {LEASE:g} s): run kept, Completed "
        f"{finished_after:.2f} s after the link came back, run_count 1"
    )


def test_a_cut_longer_than_the_lease_moves_the_runs_and_fences_the_cut_off_host(
    host_stack: Any,
) -> None:
    stack = host_stack
    stack.start_api()
    stack.deploy_record("long")
    cut_off = stack.hosts["w1"]
    stack.start_worker("w1", "long")
    with stack.http() as http:
        # Two runs on w1: one still busy when the link heals, one that finishes during the cut
        # and whose Completed can only arrive late.
        busy = trigger(http, stack, 0, seconds=120, slow_host="w1")
        # (4 s: under load, process starts may lag each other by a second or two.)
        quick = trigger(http, stack, 1, seconds=4, slow_host="w1")
        first = wait_for(lambda: started_on(stack, busy, "w1"), 30, "the busy run on w1")
        wait_for(lambda: started_on(stack, quick, "w1"), 30, "the quick run on w1")
        cut_off.cut()
        cut = time.monotonic()
        stack.start_worker("w2", "long")  # the other host, reachable all along

        def rescued(run_id: str) -> bool:
            return "CRASHED" in [s["type"] for s in state_of(http, run_id)["states"]]

        wait_for(lambda: rescued(busy) and rescued(quick), LEASE + 20, "the rescue")
        detected = time.monotonic() - cut
        for run_id in (busy, quick):
            run = wait_for(
                lambda r=run_id: (x := state_of(http, r))["state_type"] in TERMINAL and x,
                60,
                "the second attempt",
            )
            assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
        recovered = time.monotonic() - cut
        # Cut off, w1 cannot tell a dead API from a dead link: its busy attempt goes on, and
        # its quick attempt ended with nobody to tell.
        assert running(first["pid"])
        assert (started_on(stack, quick, "w2") or {}).get("host") == "w2"

        def ended_on_w1() -> list[str]:
            return [e["run"] for e in stack.ledger() if e["host"] == "w1" and e["event"] == "end"]

        wait_for(ended_on_w1, 15, "the quick attempt's end on w1, still cut off")
        assert ended_on_w1() == [quick]

        cut_off.heal()
        healed = time.monotonic()
        wait_for(lambda: not running(first["pid"]), 30, "w1's busy attempt stopped")
        fenced = time.monotonic() - healed
        # Heard at last, w1's late reports were refused: each run has one Completed, w2's.
        time.sleep(2)
        for run_id in (busy, quick):
            run = state_of(http, run_id)
            assert run["state_type"] == "COMPLETED" and run["run_count"] == 2, run
            assert [s["type"] for s in run["states"]].count("COMPLETED") == 1, run["states"]
        # Whichever learns first stops the attempt: the worker's heartbeat (its runs' leases
        # were lost) or the flow process's own lease check (it then exits with status 3).
        log = (cut_off.folder / "worker.log").read_text()
        by_worker = f"run {busy}: lease lost to another worker" in log
        # The process's own check: its message, or the worker confirming why it exited (status 3).
        by_process = f"run {busy}: its flow process stopped: " in log
        assert by_worker or by_process or "this attempt lost the run" in log, log[-3000:]

        # The host rejoins: with the other one gone, it takes and runs a new run.
        stack.processes[1].terminate()
        stack.processes[1].wait(30)
        again = trigger(http, stack, 2)
        run = wait_for(
            lambda: (x := state_of(http, again))["state_type"] in TERMINAL and x, 60, "rejoin"
        )
        assert run["state_type"] == "COMPLETED", run
        assert started_on(stack, again, "w1")
    assert stack.processes[0].poll() is None  # w1's worker lived through it all
    busy_events = sorted((e["host"], e["event"]) for e in stack.ledger() if e["run"] == busy)
    assert busy_events == [("w1", "start"), ("w2", "end"), ("w2", "start")], busy_events
    print(
        f"\nlong cut of w1 (lease {LEASE:g} s): both runs rescued {detected:.2f} s after the cut, "
        f"completed by w2 {recovered:.2f} s after it; w1's busy attempt stopped {fenced:.2f} s "
        "after the link came back (told by its "
        f"{'worker' if by_worker else 'own lease check'}); w1 ran a new run after rejoining"
    )
