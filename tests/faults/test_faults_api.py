"""Faults the API must absorb, through the real HTTP API on a real PostgreSQL: a retried state
change, a huge run, a dropped LISTEN connection, a claim cut before COMMIT, pool exhaustion.
Figures are printed (pytest -s) and recorded in docs/reliability.md."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from headrace_service import queue
from headrace_service.db import libpq_url, sqlalchemy_url
from tests.faults.conftest import WaitingClaim

POOL_TIMEOUT = 1.0
FALLBACK_POLL = 0.5
LISTEN_QUERY = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
)


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {
        "db_pool_size": 10,
        "db_pool_timeout_seconds": POOL_TIMEOUT,
        "claim_fallback_poll_seconds": FALLBACK_POLL,
    }


def setup_pool(queue_api: Any) -> tuple[dict[str, Any], str]:
    queue_api.pool("p")
    deployment = queue_api.deploy("p")
    worker_id: str = queue_api.heartbeat("p", "w1")["worker_id"]
    return deployment, worker_id


def history(queue_api: Any, run_id: str) -> list[str]:
    return [s["type"] for s in queue_api.run_state(run_id)["states"]]


# --- 14: the same transition sent twice ----------------------------------------------------------


def test_14_a_state_change_sent_twice_writes_one_row_and_answers_the_same(queue_api: Any) -> None:
    deployment, worker_id = setup_pool(queue_api)
    run = queue_api.run(deployment)
    [claimed] = queue_api.claim("p", worker_id)
    assert claimed["flow_run"]["id"] == run["id"]
    for state_type in ("RUNNING", "COMPLETED"):
        # A client that lost the answer of a committed request sends it again.
        first = queue_api.set_state(run["id"], state_type, worker_id)
        again = queue_api.set_state(run["id"], state_type, worker_id)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert first.json() == again.json(), (first.json(), again.json())
    assert history(queue_api, run["id"]) == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]


# --- 16: 900 KB of parameters -----------------------------------------------------------------


def test_16_a_run_with_900_kb_of_parameters_is_created_and_claimed(
    queue_api: Any, database_url: str
) -> None:
    deployment, worker_id = setup_pool(queue_api)
    parameters = {"blob": "x" * 900_000, "rows": list(range(1000))}
    with psycopg.connect(libpq_url(database_url), autocommit=True) as listener:
        listener.execute(f'LISTEN "{queue.FLOW_RUN_CHANNEL}"')
        run = queue_api.run(deployment, parameters=parameters)
        [claimed] = queue_api.claim("p", worker_id)
        payloads = [n.payload for n in listener.notifies(timeout=1.0, stop_after=2)]
    assert claimed["flow_run"]["id"] == run["id"]
    assert claimed["parameters"] == parameters
    assert payloads, "no NOTIFY was sent for the new run"
    for payload in payloads:  # only ids travel: the parameters stay in the table
        assert len(payload) < 200 and "xxxx" not in payload, payload[:300]


# --- 11: the LISTEN connection killed ----------------------------------------------------------


def test_11_a_killed_listen_connection_falls_back_to_polling_and_comes_back(
    queue_api: Any, sql: Any, api_url: str
) -> None:
    deployment, worker_id = setup_pool(queue_api)
    [listener_pid] = [row["pid"] for row in sql.rows(LISTEN_QUERY)]
    waiter = WaitingClaim(api_url, worker_id)
    assert sql.scalar("SELECT pg_terminate_backend(:pid)", pid=listener_pid)
    killed = time.monotonic()
    run = queue_api.run(deployment)
    assert waiter.run_ids() == [run["id"]]
    picked_up = waiter.returned - killed
    assert picked_up < FALLBACK_POLL + 1.0, picked_up
    deadline = time.monotonic() + 10
    while not (back := [r["pid"] for r in sql.rows(LISTEN_QUERY)]):
        assert time.monotonic() < deadline, "the LISTEN connection did not come back"
        time.sleep(0.05)
    assert back != [listener_pid]
    relisten = time.monotonic() - killed
    # And it works again: a waiting claim is woken by NOTIFY, well before the poll interval.
    waiter = WaitingClaim(api_url, worker_id)
    time.sleep(0.3)
    created = time.monotonic()
    second = queue_api.run(deployment)
    assert waiter.run_ids() == [second["id"]]
    print(f"\n11: run picked up {picked_up:.2f} s after the kill; LISTEN back in {relisten:.2f} s")
    assert waiter.returned - created < FALLBACK_POLL + 1.0


# --- 9: a claim whose connection dies before COMMIT --------------------------------------------


async def claim_then_die(database_url: str, pool_id: uuid.UUID, worker_id: uuid.UUID) -> list[Any]:
    """Run the claim statement in a transaction of our own, have the server kill its backend
    before COMMIT, and return what the claim had taken (and then lost)."""
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            taken = await queue.flow_run_claim(conn, pool_id, worker_id, 1, 30.0)
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as killer:
                await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(sa_exc.OperationalError):
                await transaction.commit()
            return [row["id"] for row in taken]
    finally:
        await engine.dispose()


def test_09_a_claim_killed_before_commit_leaves_the_run_for_another_worker(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    deployment, worker_id = setup_pool(queue_api)
    run = queue_api.run(deployment)
    pool_id = uuid.UUID(sql.scalar("SELECT id::text FROM work_pool WHERE name = 'p'"))
    lost = asyncio.run(claim_then_die(database_url, pool_id, uuid.UUID(worker_id)))
    assert [str(run_id) for run_id in lost] == [run["id"]]
    state = queue_api.run_state(run["id"])
    assert state["state_type"] == "SCHEDULED" and state["worker_id"] is None
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    [claimed] = queue_api.claim("p", other)
    assert claimed["flow_run"]["id"] == run["id"]
    assert history(queue_api, run["id"]) == ["SCHEDULED", "PENDING"]


# --- 15: pool exhaustion ----------------------------------------------------------------------


async def storm(url: str, path: str, body: dict[str, Any], release: Any) -> list[Any]:
    """300 concurrent requests; `release()` runs once the pool timeout has passed for sure."""
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def send() -> tuple[int, float, str | None]:
            started = time.monotonic()
            response = await client.post(path, json=body)
            took = time.monotonic() - started
            return response.status_code, took, response.headers.get("retry-after")

        tasks = [asyncio.create_task(send()) for _ in range(300)]
        await asyncio.sleep(POOL_TIMEOUT + 2.0)  # the lock outlives the pool timeout on purpose
        release()
        return list(await asyncio.gather(*tasks))


async def heartbeats_during(
    url: str, pool: str, name: str, run_id: str, flood: Awaitable[list[Any]]
) -> tuple[list[Any], list[tuple[int, float, list[str]]]]:
    """`flood`'s answers, and those of a worker heartbeating for `run_id` every 0.25 s
    meanwhile: (status, seconds taken, runs it was told it lost)."""
    beats: list[tuple[int, float, list[str]]] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def beat() -> None:
            while not done.is_set():
                started = time.monotonic()
                response = await client.post(
                    f"/work_pools/{pool}/workers/heartbeat",
                    json={"name": name, "run_ids": [run_id]},
                )
                lost = response.json().get("lost_run_ids", []) if response.is_success else []
                beats.append((response.status_code, time.monotonic() - started, lost))
                await asyncio.sleep(0.25)

        beating = asyncio.create_task(beat())
        answers = await flood
        done.set()
        await beating
    return answers, beats


def test_15_pool_exhaustion_answers_503_with_retry_after_never_500(
    sql: Any, database_url: str, start_server: Any, make_queue_api: Any
) -> None:
    server = start_server(
        database_url=database_url,
        db_pool_size="10",
        db_pool_timeout_seconds=str(POOL_TIMEOUT),
        log_level="warning",
    )
    with httpx.Client(base_url=server.url, timeout=30) as http:
        queue_api = make_queue_api(http)
        deployment, worker_id = setup_pool(queue_api)
        run = queue_api.run(deployment)
        queue_api.claim("p", worker_id)
        queue_api.set_state(run["id"], "RUNNING", worker_id)
        # A healthy run of another worker, whose heartbeats must go on while the pool is full.
        healthy = queue_api.run(deployment)
        other_id = queue_api.heartbeat("p", "w2")["worker_id"]
        queue_api.claim("p", other_id)
        queue_api.set_state(healthy["id"], "RUNNING", other_id)
        lease_before = queue_api.run_state(healthy["id"])["lease_expires_at"]
        body = {"state": {"type": "RUNNING"}, "worker_id": worker_id}
        # Every request needs the run's row lock; holding it here pins the 10 pool connections
        # of the first requests, so the rest must wait for a connection and time out of the pool.
        with sql.engine.connect() as holder:
            holder.begin()
            holder.execute(
                text("SELECT 1 FROM flow_run WHERE id = :id FOR UPDATE"), {"id": run["id"]}
            )
            flood = storm(server.url, f"/flow_runs/{run['id']}/set_state", body, holder.commit)
            answers, beats = asyncio.run(
                heartbeats_during(server.url, "p", "w2", healthy["id"], flood)
            )
        statuses = sorted({status for status, _, _ in answers})
        unavailable = sorted(took for status, took, _ in answers if status == 503)
        print(
            f"\n15: statuses {statuses}; {len(unavailable)} x 503, 503 after "
            f"{unavailable[0]:.2f}-{unavailable[-1]:.2f} s (pool timeout {POOL_TIMEOUT} s)"
        )
        assert set(statuses) <= {201, 503}, statuses
        assert 0 < len(unavailable) < 300
        assert all(retry is not None for status, _, retry in answers if status == 503)
        # A 503 comes after the pool timeout, not after the lock; loosely, for 2 busy cores.
        assert unavailable[-1] < POOL_TIMEOUT + 1.5
        assert queue_api.run_state(run["id"])["state_type"] == "RUNNING"
        # Lease renewals have a pool of their own: every heartbeat answered, promptly, and the
        # healthy run kept its lease (no false Crashed).
        slowest_beat = max(took for _, took, _ in beats)
        print(f"15: {len(beats)} heartbeats during the flood, slowest {slowest_beat:.2f} s")
        assert len(beats) >= 4 and {status for status, _, _ in beats} == {200}, beats
        assert all(lost == [] for _, _, lost in beats)
        assert slowest_beat < POOL_TIMEOUT + 1.5, beats  # loosely, as for the 503s above
        healthy_now = queue_api.run_state(healthy["id"])
        assert healthy_now["state_type"] == "RUNNING"
        renewed = datetime.fromisoformat(healthy_now["lease_expires_at"])
        assert renewed > datetime.fromisoformat(lease_before)
