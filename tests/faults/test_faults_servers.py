"""Faults of the API servers themselves: two `headrace server start` processes on one database,
one SIGKILLed while both run the background loops (scheduler, reaper)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

LOOP_INTERVAL = 0.5
SCHEDULE_SECONDS = 1
FAST_LOOPS = {
    "scheduler_interval_seconds": str(LOOP_INTERVAL),
    "reaper_interval_seconds": str(LOOP_INTERVAL),
    "scheduler_min_runs": "1",
    "scheduler_min_time_seconds": "4",  # keep ~4 upcoming runs: new ones every second
    "log_level": "warning",
}


def scheduled_times(sql: Any, deployment_id: str) -> list[datetime]:
    rows = sql.rows(
        "SELECT expected_start_time FROM flow_run WHERE deployment_id = :d "
        "ORDER BY expected_start_time",
        d=deployment_id,
    )
    return [row["expected_start_time"] for row in rows]


def test_17_killing_one_of_two_servers_leaves_the_loops_to_the_other_without_duplicates(
    database_url: str, start_server: Any, sql: Any, make_queue_api: Any
) -> None:
    doomed = start_server(database_url=database_url, **FAST_LOOPS)
    survivor = start_server(database_url=database_url, **FAST_LOOPS)
    with httpx.Client(base_url=survivor.url, timeout=30) as http:
        queue_api = make_queue_api(http)
        queue_api.pool("p")
        deployment = queue_api.deploy("p", schedules=[{"schedule": {"interval": SCHEDULE_SECONDS}}])
        deadline = time.monotonic() + 10
        while not scheduled_times(sql, deployment["id"]):
            assert time.monotonic() < deadline, "no scheduled run after 10 s of two schedulers"
            time.sleep(0.05)
        time.sleep(4 * LOOP_INTERVAL)  # both servers race a few more passes, on purpose
        before = scheduled_times(sql, deployment["id"])
        doomed.process.kill()  # SIGKILL: no shutdown hook, its sessions just vanish
        doomed.process.wait(10)
        killed = time.monotonic()
        horizon = before[-1]
        # The survivor's scheduler goes on making runs past the dead one's last.
        while not [t for t in scheduled_times(sql, deployment["id"]) if t > horizon]:
            assert time.monotonic() - killed < 10, "no run made after the kill"
            time.sleep(0.05)
        took_over = time.monotonic() - killed
        # The survivor's reaper works too: a run whose worker vanished is crashed.
        worker_id = queue_api.heartbeat("p", "ghost")["worker_id"]
        sql.execute(
            "UPDATE flow_run SET next_scheduled_start_time = now() WHERE id = "
            "(SELECT id FROM flow_run WHERE deployment_id = :d AND state_type = 'SCHEDULED' "
            "ORDER BY expected_start_time LIMIT 1)",
            d=deployment["id"],
        )
        [claimed] = queue_api.claim("p", worker_id)
        sql.execute(
            "UPDATE flow_run SET lease_expires_at = now() - interval '1 second' WHERE id = :id",
            id=claimed["flow_run"]["id"],
        )
        deadline = time.monotonic() + 5
        while queue_api.run_state(claimed["flow_run"]["id"])["state_type"] != "CRASHED":
            assert time.monotonic() < deadline, "the survivor's reaper did not sweep"
            time.sleep(0.05)
    times = scheduled_times(sql, deployment["id"])
    assert len(times) == len(set(times)), "a scheduled run was made twice"
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap == timedelta(seconds=SCHEDULE_SECONDS) for gap in gaps), gaps
    print(f"\n17: survivor made the next scheduled run {took_over:.2f} s after the kill")


def test_12_workers_and_flows_wait_out_a_killed_api_server_and_resume(
    database_url: str, start_server: Any, tmp_path: Path, make_ledger_stack: Any, ledger: Any
) -> None:
    """One API URL (no list to fail over to, see test_faults_failover.py): a worker and its flow
    process keep going while the API is away, retry, and resume when it is back (restarted, or
    another replica behind the same address)."""
    settings = {"lease_seconds": "15", "heartbeat_seconds": "0.5", "log_level": "warning"}
    first = start_server(database_url=database_url, **settings)
    with make_ledger_stack(first.url, tmp_path) as stack:
        deployment = stack.deploy("once")
        worker = stack.start_worker("--pool", stack.pool)
        # The flow ends, and reports its final state, while the API is down.
        run_id = stack.run(deployment, first=0.5)
        deadline = time.monotonic() + 30
        while not ledger(stack.folder):
            assert time.monotonic() < deadline, "the flow did not start"
            time.sleep(0.05)
        first.process.kill()  # SIGKILL: requests in flight are cut
        first.process.wait(10)
        killed = time.monotonic()
        time.sleep(2.0)  # the outage, on purpose
        start_server(database_url=database_url, port=first.port, **settings)
        back = time.monotonic()
        run = stack.wait_state(run_id, timeout=30)
        assert run["state_type"] == "COMPLETED" and run["run_count"] == 1, (
            run["states"],
            stack.worker_output(0)[-3000:],
        )
        # The same worker claims again through the new server process.
        later = stack.run(deployment, first=0)
        assert stack.wait_state(later, timeout=15)["state_type"] == "COMPLETED"
        resumed = time.monotonic() - back
        assert worker.poll() is None
        events = sorted((e["run"], e["event"]) for e in ledger(stack.folder))
        assert events == sorted((r, ev) for r in (run_id, later) for ev in ("start", "end"))
    print(
        f"\n12: API down {back - killed:.2f} s (restart); worker finished the run and ran a new "
        f"one {resumed:.2f} s after the API was back"
    )


def test_18_a_webhook_call_cut_by_a_killed_server_is_made_again_with_the_same_key(
    database_url: str, start_server: Any
) -> None:
    timeout = 2.0
    receiver = Receiver(stall_first=True)
    try:
        first = start_server(database_url=database_url, log_level="warning")
        with httpx.Client(base_url=first.url, timeout=30) as http:
            action = {
                "type": "call-webhook",
                "url": receiver.url,
                "timeout_seconds": timeout,
                "retries": 0,
            }
            created = http.post(
                "/automations",
                json={"name": "forward", "trigger": {"expect": ["shop.paid"]}, "actions": [action]},
            )
            assert created.status_code == 201, created.text
            event = {"event": "shop.paid", "resource": {"headrace.resource.id": "o-1"}}
            assert http.post("/event_feed", json={"events": [event]}).status_code == 201
        deadline = time.monotonic() + 15
        while not receiver.requests:
            assert time.monotonic() < deadline, "the webhook was not called"
            time.sleep(0.05)
        first.process.kill()  # SIGKILL during the call: its outcome is never recorded
        first.process.wait(10)
        killed = time.monotonic()
        receiver.release.set()
        # A server's upkeep (on its first pass, then every minute) makes the call again once
        # the call's longest duration (timeout + 5 s margin) has passed: start one then.
        time.sleep(timeout + 5.5)
        second = start_server(database_url=database_url, log_level="warning")
        deadline = time.monotonic() + 20
        while len(receiver.requests) < 2:
            assert time.monotonic() < deadline, "the interrupted call was not made again"
            time.sleep(0.1)
        again = time.monotonic() - killed
        with httpx.Client(base_url=second.url, timeout=30) as http:
            deadline = time.monotonic() + 10
            while True:
                [firing] = http.get("/automations/forward/firings").json()
                if firing["actions"][0]["status"] != "running":
                    break
                assert time.monotonic() < deadline, firing
                time.sleep(0.1)
    finally:
        receiver.close()
    first_key, second_key = (headers["Idempotency-Key"] for headers, _ in receiver.requests)
    assert first_key == second_key
    assert len(receiver.requests) == 2
    assert firing["actions"][0]["status"] == "executed"
    assert again >= timeout  # not before the first call could have ended
    print(f"\n18: the interrupted webhook call was made again {again:.1f} s after the kill")
