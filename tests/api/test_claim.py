"""Claims: order, leases, limits, pauses, races and the long poll, through the real API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import WaitingClaim

BULK_INSERT = """
    INSERT INTO flow_run (name, flow_id, deployment_id, work_pool_id, work_queue_id,
                          state_type, state_name, expected_start_time, next_scheduled_start_time)
    SELECT 'bulk-' || g, d.flow_id, d.id, d.work_pool_id, d.work_queue_id,
           'SCHEDULED', 'Scheduled', now() - interval '1 hour', now() - interval '1 hour'
    FROM deployment d, generate_series(1, :n) AS g
    WHERE d.id = :deployment_id
"""


def setup_pool(queue_api: Any, **pool: Any) -> tuple[dict[str, Any], str]:
    queue_api.pool("p", **pool)
    deployment = queue_api.deploy("p")
    worker_id = queue_api.heartbeat("p", "w1")["worker_id"]
    return deployment, worker_id


def test_claim_hands_out_a_pending_run_with_a_lease(http: httpx.Client, queue_api: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    run = queue_api.run(deployment, parameters={"day": "2026-11-24"})
    [claimed] = queue_api.claim("p", worker_id, limit=5)
    assert claimed["flow_run"]["id"] == run["id"]
    assert claimed["entrypoint"] == "flows/etl.py:etl" and claimed["path"] == "/srv/code"
    assert claimed["parameters"] == {"day": "2026-11-24"}
    assert claimed["deployment_name"] == "daily" and claimed["flow_name"] == "etl"
    state = queue_api.run_state(run["id"])
    assert state["state_type"] == "PENDING" and state["worker_id"] == worker_id
    lease = datetime.fromisoformat(state["lease_expires_at"])
    assert timedelta(seconds=20) < lease - datetime.now(UTC) <= timedelta(seconds=31)
    assert [s["type"] for s in state["states"]] == ["SCHEDULED", "PENDING"]
    assert queue_api.claim("p", worker_id) == []


def test_claim_order_is_priority_then_start_time(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    queue_api.queue("p", "urgent", priority=1)
    queue_api.queue("p", "bulk", priority=5)
    slow = queue_api.deploy("p", name="slow", work_queue_name="bulk")
    fast = queue_api.deploy("p", name="fast", work_queue_name="urgent")
    worker_id = queue_api.heartbeat("p")["worker_id"]
    now = datetime.now(UTC)
    bulk_early = queue_api.run(slow, scheduled_time=(now - timedelta(minutes=9)).isoformat())
    urgent_late = queue_api.run(fast, scheduled_time=(now - timedelta(minutes=1)).isoformat())
    urgent_early = queue_api.run(fast, scheduled_time=(now - timedelta(minutes=5)).isoformat())
    order = [queue_api.claim("p", worker_id)[0]["flow_run"]["id"] for _ in range(3)]
    assert order == [urgent_early["id"], urgent_late["id"], bulk_early["id"]]


def test_a_run_in_the_future_is_not_claimed_before_its_time(queue_api: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    queue_api.run(deployment, scheduled_time=later)
    assert queue_api.claim("p", worker_id) == []


def test_an_unregistered_worker_cannot_claim(http: httpx.Client, queue_api: Any) -> None:
    setup_pool(queue_api)
    queue_api.pool("other")
    stranger = queue_api.heartbeat("other", "w1")["worker_id"]
    response = http.post("/work_pools/p/claim", json={"worker_id": stranger})
    assert response.status_code == 404 and "heartbeat" in response.json()["detail"]


def test_paused_pool_and_paused_queue_are_not_claimed(http: httpx.Client, queue_api: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    queue_api.run(deployment)
    http.patch("/work_pools/p", json={"paused": True})
    assert queue_api.claim("p", worker_id) == []
    http.patch("/work_pools/p", json={"paused": False})
    http.patch("/work_pools/p/queues/default", json={"paused": True})
    assert queue_api.claim("p", worker_id) == []
    http.patch("/work_pools/p/queues/default", json={"paused": False})
    assert len(queue_api.claim("p", worker_id)) == 1


def test_pool_queue_and_deployment_limits_are_never_exceeded(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("p", concurrency_limit=3)
    queue_api.queue("p", "q2", concurrency_limit=1)
    limited = queue_api.deploy("p", name="limited", concurrency_limit=1)
    free = queue_api.deploy("p", name="free")
    in_q2 = queue_api.deploy("p", name="in-q2", work_queue_name="q2")
    worker_id = queue_api.heartbeat("p")["worker_id"]
    for deployment in (limited, free, in_q2):
        for _ in range(3):
            queue_api.run(deployment)
    claimed = queue_api.claim("p", worker_id, limit=10)
    by_deployment = [c["deployment_name"] for c in claimed]
    # Pool: 3 at most; deployment "limited": 1; queue q2: 1.
    assert len(claimed) == 3
    assert by_deployment.count("limited") <= 1 and by_deployment.count("in-q2") <= 1
    assert queue_api.claim("p", worker_id, limit=10) == []
    # Finishing one frees exactly one pool slot.
    done = claimed[0]["flow_run"]["id"]
    assert queue_api.set_state(done, "RUNNING", worker_id).status_code == 201
    assert queue_api.set_state(done, "COMPLETED", worker_id).status_code == 201
    assert len(queue_api.claim("p", worker_id, limit=10)) == 1
    http.patch("/work_pools/p", json={"concurrency_limit": None})
    rest = queue_api.claim("p", worker_id, limit=10)
    active = http.get("/flow_runs", params={"state_type": "PENDING,RUNNING"}).json()["items"]
    names = [r["deployment_name"] for r in active]
    assert names.count("limited") == 1 and names.count("in-q2") == 1
    assert rest  # the pool limit no longer holds the "free" runs back
    waiting = http.get("/flow_runs", params={"state_type": "SCHEDULED"}).json()["items"]
    assert {r["deployment_name"] for r in waiting} == {"limited", "in-q2"}


def test_eight_concurrent_claimers_never_get_the_same_run(
    api_url: str, queue_api: Any, sql: Any
) -> None:
    deployment, _ = setup_pool(queue_api)
    sql.execute(BULK_INSERT, n=1000, deployment_id=deployment["id"])
    workers = [queue_api.heartbeat("p", f"w{i}")["worker_id"] for i in range(8)]

    def drain(worker_id: str, limit: int) -> list[str]:
        got: list[str] = []
        with httpx.Client(base_url=api_url, timeout=30) as client:
            while True:
                response = client.post(
                    "/work_pools/p/claim", json={"worker_id": worker_id, "limit": limit}
                )
                assert response.status_code == 200, response.text
                batch = [c["flow_run"]["id"] for c in response.json()]
                if not batch:
                    return got
                got.extend(batch)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(drain, workers, [1, 3, 5, 7, 1, 3, 5, 7]))
    claimed = [run_id for batch in results for run_id in batch]
    assert len(claimed) == 1000
    assert len(set(claimed)) == 1000
    assert sql.scalar("SELECT count(*) FROM flow_run WHERE state_type = 'PENDING'") == 1000
    assert sql.scalar("SELECT count(*) FROM flow_run_state WHERE type = 'PENDING'") == 1000


def test_a_waiting_claim_is_woken_by_a_new_run(queue_api: Any, api_url: str) -> None:
    deployment, worker_id = setup_pool(queue_api)
    waiter = WaitingClaim(api_url, worker_id)
    time.sleep(0.5)  # the claim is now waiting
    created = time.monotonic()
    run = queue_api.run(deployment)
    assert waiter.run_ids() == [run["id"]]
    # Speed is measured in bench/; here only "woken, not timed out nor polled".
    assert waiter.returned - created < 1.5


def test_a_waiting_claim_wakes_at_the_next_start_time(queue_api: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    due = datetime.now(UTC) + timedelta(seconds=1)
    run = queue_api.run(deployment, scheduled_time=due.isoformat())
    started = time.monotonic()
    claimed = queue_api.claim("p", worker_id, wait=10)
    elapsed = time.monotonic() - started
    assert [c["flow_run"]["id"] for c in claimed] == [run["id"]]
    assert 0.3 < elapsed < 5


def test_a_waiting_claim_returns_empty_at_its_timeout(queue_api: Any) -> None:
    setup_pool(queue_api)
    started = time.monotonic()
    assert queue_api.claim("p", queue_api.heartbeat("p")["worker_id"], wait=0.5) == []
    assert 0.4 < time.monotonic() - started < 5


def test_the_claim_uses_the_partial_claim_index(queue_api: Any, sql: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    sql.execute(BULK_INSERT, n=2000, deployment_id=deployment["id"])
    sql.execute("ANALYZE flow_run")
    from headrace_service.queue.claim import _CLAIM_UNLIMITED

    with sql.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text("EXPLAIN " + _CLAIM_UNLIMITED),
                {
                    "pool_id": deployment["work_pool_id"],
                    "worker_id": worker_id,
                    "limit": 10,
                    "lease_seconds": 30,
                    "now": None,
                },
            )
        )
    assert "ix_flow_run_claim" in plan, plan
    assert (
        "Sort" not in plan.split("LockRows")[1].split("->  Update")[0]
        if "LockRows" in plan
        else True
    )
