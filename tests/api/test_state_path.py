"""Every bulk statement that changes flow run states ends in the one tail (queue/state_tail.py).

One run's life through the queue's bulk statements, on a real Postgres with a pinned clock:
scheduled, the older runs of its schedule skipped, marked late, claimed, rescued after its lease
expired (Crashed, then AwaitingRetry), cancelled with its pool's waiting runs. After each
statement: every (old, new) state type pair it wrote is one that `transitions.ALLOWED` allows,
and each change left exactly one history row, one outbox row and one NOTIFY (heard by LISTEN).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace_service import queue
from headrace_service.db import Database, create_engine, libpq_url
from headrace_service.transitions import ALLOWED

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Statement = Callable[[AsyncConnection], Awaitable[object]]


@dataclass
class Written:
    """What one statement left: its outbox rows, its history rows and the NOTIFYs heard."""

    outbox: list[Any]
    history: list[Any]
    run_notifies: list[dict[str, Any]]
    pool_notifies: list[dict[str, Any]]

    def pairs(self) -> list[tuple[str | None, str, str]]:
        return [(r.old_state_type, r.new_state_type, r.new_state_name) for r in self.outbox]


async def seed(conn: AsyncConnection) -> Any:
    """A flow, a pool with its default queue, a deployment with one retry, a schedule."""
    return (
        await conn.execute(
            text(
                """
                WITH f AS (INSERT INTO flow (name) VALUES ('etl') RETURNING id),
                     p AS (INSERT INTO work_pool (name, type) VALUES ('p', 'process')
                           RETURNING id),
                     q AS (INSERT INTO work_queue (work_pool_id, name) SELECT id, 'default' FROM p
                           RETURNING id, work_pool_id),
                     d AS (INSERT INTO deployment (flow_id, name, entrypoint, work_pool_id,
                               work_queue_id, max_retries)
                           SELECT f.id, 'daily', 'flows.py:etl', q.work_pool_id, q.id, 1
                           FROM f, q RETURNING id, flow_id, work_pool_id, work_queue_id)
                INSERT INTO deployment_schedule (deployment_id, schedule)
                SELECT d.id, '{"interval": 60}' FROM d
                RETURNING id, deployment_id,
                    (SELECT flow_id FROM d), (SELECT work_pool_id FROM d),
                    (SELECT work_queue_id FROM d)
                """
            )
        )
    ).one()


def scheduled_runs(seeded: Any, *minutes_before_t0: int) -> list[queue.ScheduledRun]:
    return [
        queue.ScheduledRun(
            name=f"run-{minutes}",
            flow_id=seeded.flow_id,
            deployment_id=seeded.deployment_id,
            schedule_id=seeded.id,
            work_pool_id=seeded.work_pool_id,
            work_queue_id=seeded.work_queue_id,
            priority=1,
            parameters={},
            tags=[],
            max_retries=1,
            retry_delay_seconds=0,
            start=T0 - timedelta(minutes=minutes),
            idempotency_key=f"{seeded.id}:{minutes}",
        )
        for minutes in minutes_before_t0
    ]


class Recorder:
    """Runs statements one transaction each and collects what each wrote."""

    def __init__(self, db: Database, listener: psycopg.AsyncConnection[Any]) -> None:
        self.db = db
        self.listener = listener

    async def run(self, statement: Statement) -> Written:
        async with self.db.begin() as conn:
            last_event = (
                await conn.execute(text("SELECT coalesce(max(id), 0) FROM event_outbox"))
            ).scalar_one()
            before = set((await conn.execute(text("SELECT id FROM flow_run_state"))).scalars())
        async with self.db.begin() as conn:
            await statement(conn)
        async with self.db.begin() as conn:
            outbox = list(
                await conn.execute(
                    text("SELECT * FROM event_outbox WHERE id > :last ORDER BY id"),
                    {"last": last_event},
                )
            )
            history = [
                row
                for row in await conn.execute(text("SELECT * FROM flow_run_state"))
                if row.id not in before
            ]
        run_notifies: list[dict[str, Any]] = []
        pool_notifies: list[dict[str, Any]] = []
        async for notify in self.listener.notifies(timeout=0.5):
            heard = run_notifies if notify.channel == queue.FLOW_RUN_CHANNEL else pool_notifies
            heard.append(json.loads(notify.payload))
        return Written(outbox, history, run_notifies, pool_notifies)


def check_one_path(written: Written, changes: int) -> None:
    """`changes` changes, each allowed, each with one history row, outbox row and NOTIFY."""
    assert len(written.outbox) == changes, written.pairs()
    for old, new, name in written.pairs():
        old_type = StateType(old) if old is not None else None
        assert StateType(new) in ALLOWED[old_type], f"{old} -> {new} ({name}) is not allowed"
    assert Counter((h.flow_run_id, h.type, h.name, h.timestamp) for h in written.history) == (
        Counter(
            (e.flow_run_id, e.new_state_type, e.new_state_name, e.occurred) for e in written.outbox
        )
    )
    assert sorted(written.run_notifies, key=json.dumps) == sorted(
        (e.payload for e in written.outbox), key=json.dumps
    )
    for event in written.outbox:
        assert event.payload == {
            "id": str(event.flow_run_id),
            "state_type": event.new_state_type,
            "work_pool_id": event.payload["work_pool_id"],
        }


def test_each_bulk_statement_writes_allowed_changes_through_the_one_tail(
    database_url: str,
) -> None:
    async def main() -> None:
        db = Database(create_engine(database_url, pool_size=2, pool_timeout=10))
        listener = await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True)
        try:
            for channel in (queue.FLOW_RUN_CHANNEL, queue.WORK_POOL_CHANNEL):
                await listener.execute(f'LISTEN "{channel}"')
            async with db.begin() as conn:
                seeded = await seed(conn)
            await the_life_of_a_run(Recorder(db, listener), seeded)
        finally:
            await listener.close()
            await db.dispose()

    asyncio.run(main())


async def the_life_of_a_run(recorder: Recorder, seeded: Any) -> None:
    pool = str(seeded.work_pool_id)

    async def schedule(conn: AsyncConnection) -> object:
        return await queue.flow_run_create_scheduled_many(
            conn, scheduled_runs(seeded, 3, 2, 1), now=T0 - timedelta(minutes=5)
        )

    created = await recorder.run(schedule)
    check_one_path(created, 3)
    assert set(created.pairs()) == {(None, "SCHEDULED", "Scheduled")}
    assert created.pool_notifies == [{"work_pool_id": pool, "state_type": "SCHEDULED"}]

    skipped = await recorder.run(lambda conn: queue.flow_run_skip_missed(conn, now=T0))
    check_one_path(skipped, 2)
    assert set(skipped.pairs()) == {("SCHEDULED", "CANCELLED", "Skipped")}

    late = await recorder.run(
        lambda conn: queue.flow_run_mark_late(conn, late_after_seconds=15, now=T0)
    )
    check_one_path(late, 1)
    assert late.pairs() == [("SCHEDULED", "SCHEDULED", "Late")]
    [run_id] = [e.flow_run_id for e in late.outbox]

    async def claim(conn: AsyncConnection) -> object:
        worker = await queue.worker_heartbeat(conn, seeded.work_pool_id, "w1", 10.0, now=T0)
        return await queue.flow_run_claim(conn, seeded.work_pool_id, worker["id"], 5, 30.0, T0)

    claimed = await recorder.run(claim)
    check_one_path(claimed, 1)
    assert claimed.pairs() == [("SCHEDULED", "PENDING", "Pending")]
    assert claimed.pool_notifies == []  # a claimed run wakes no other claim

    rescued = await recorder.run(
        lambda conn: queue.flow_run_rescue_expired(conn, T0 + timedelta(minutes=5))
    )
    check_one_path(rescued, 2)  # retries left: Crashed, then AwaitingRetry
    assert sorted(rescued.pairs(), key=str) == [
        ("CRASHED", "SCHEDULED", "AwaitingRetry"),
        ("PENDING", "CRASHED", "Crashed"),
    ]
    assert {(p["work_pool_id"], p["state_type"]) for p in rescued.pool_notifies} == {
        (pool, "CRASHED"),
        (pool, "SCHEDULED"),
    }

    cancelled = await recorder.run(
        lambda conn: queue.flow_run_cancel_waiting(
            conn, message="pool deleted", pool_id=seeded.work_pool_id, now=T0
        )
    )
    check_one_path(cancelled, 1)
    assert cancelled.pairs() == [("SCHEDULED", "CANCELLED", "Cancelled")]
    assert {e.flow_run_id for e in cancelled.outbox} == {run_id}


def test_a_release_is_announced_not_recorded(database_url: str) -> None:
    """The reaper freeing a run kept for an in-process retry changes no state: no history row,
    no outbox row, but claims of its pool hear that it can be taken."""

    async def main() -> None:
        db = Database(create_engine(database_url, pool_size=2, pool_timeout=10))
        listener = await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True)
        try:
            await listener.execute(f'LISTEN "{queue.WORK_POOL_CHANNEL}"')
            recorder = Recorder(db, listener)
            async with db.begin() as conn:
                seeded = await seed(conn)
            worker: dict[str, uuid.UUID] = {}

            async def held_for_retry(conn: AsyncConnection) -> object:
                await queue.flow_run_create_scheduled_many(conn, scheduled_runs(seeded, 1), T0)
                worker["id"] = (
                    await queue.worker_heartbeat(conn, seeded.work_pool_id, "w1", 10.0, now=T0)
                )["id"]
                [run] = await queue.flow_run_claim(
                    conn, seeded.work_pool_id, worker["id"], 1, 30.0, T0
                )
                for state_type, name in (
                    (StateType.RUNNING, "Running"),
                    (StateType.SCHEDULED, "AwaitingRetry"),
                ):
                    change = await queue.flow_run_set_state(
                        conn,
                        run["id"],
                        state_type=state_type,
                        state_name=name,
                        message=None,
                        requester=worker["id"],
                        now=T0,
                    )
                    assert change.decision.accept
                return run

            await recorder.run(held_for_retry)
            released = await recorder.run(
                lambda conn: queue.flow_run_rescue_expired(conn, T0 + timedelta(minutes=5))
            )
            assert released.outbox == [] and released.history == []
            assert released.pool_notifies == [
                {"work_pool_id": str(seeded.work_pool_id), "state_type": "SCHEDULED"}
            ]
        finally:
            await listener.close()
            await db.dispose()

    asyncio.run(main())
