"""The evaluator and the loop's upkeep on a real Postgres with pinned clocks (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from headrace_service.automations import evaluator
from headrace_service.db import Database, create_engine
from headrace_service.loops.automations import AutomationLoop
from headrace_service.notifier import Notifier
from headrace_service.store import automations as store
from headrace_service.store.events import event_record

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run(database_url: str, test: Callable[[Database], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(create_engine(database_url, pool_size=4, pool_timeout=10))
        try:
            await test(db)
        finally:
            await db.dispose()

    asyncio.run(main())


async def count(db: Database, table: str) -> int:
    async with db.begin() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def add_automation(db: Database, name: str, trigger: dict[str, object]) -> None:
    async with db.begin() as conn:
        definition = {
            "name": name,
            "description": "",
            "enabled": True,
            "trigger": trigger,
            "actions": [{"type": "cancel-flow-run"}],
        }
        assert await store.automation_create(conn, definition) is not None


def test_a_proactive_trigger_without_after_fires_once_per_quiet_window(database_url: str) -> None:
    async def test(db: Database) -> None:
        trigger = {"posture": "Proactive", "expect": ["app.heartbeat"], "within": 60}
        await add_automation(db, "heartbeat-missing", trigger)
        assert await evaluator.run_once(db, T0) == 0  # the first window opens
        assert await evaluator.run_once(db, T0 + timedelta(seconds=30)) == 0
        assert await evaluator.run_once(db, T0 + timedelta(seconds=61)) == 1
        # The same moment again, or a second replica's pass: nothing more.
        assert await evaluator.run_once(db, T0 + timedelta(seconds=61)) == 0
        assert await evaluator.run_once(db, T0 + timedelta(seconds=122)) == 1
        assert await count(db, "automation_firing") == 2

        loop = AutomationLoop(db, Notifier(database_url, "unused"), 30.0, retention_days=1)
        assert await loop.upkeep(datetime.now(UTC)) == 0
        assert await loop.upkeep(datetime.now(UTC) + timedelta(days=2)) == 2
        assert await count(db, "automation_firing") == 0
        assert await count(db, "automation_action") == 0
        await loop.executor.close()

    run(database_url, test)


def test_reactive_counts_whose_window_passed_are_forgotten(database_url: str) -> None:
    async def test(db: Database) -> None:
        trigger = {
            "expect": ["job.failed"],
            "for_each": ["headrace.resource.id"],
            "threshold": 3,
            "within": 60,
        }
        await add_automation(db, "flapping", trigger)
        async with db.begin() as conn:
            for job in ("a", "b"):
                await conn.execute(
                    text(
                        "INSERT INTO event (id, event, occurred, resource_id, resource) VALUES "
                        "(gen_random_uuid(), 'job.failed', :at, :job, "
                        "jsonb_build_object('headrace.resource.id', CAST(:job AS text)))"
                    ),
                    {"at": datetime.now(UTC), "job": job},
                )
        assert await evaluator.run_once(db, datetime.now(UTC)) == 0
        assert await count(db, "automation_bucket") == 2  # one count per job, each at 1
        assert await evaluator.run_once(db, datetime.now(UTC) + timedelta(seconds=61)) == 0
        assert await count(db, "automation_bucket") == 0

    run(database_url, test)


async def cursor_position(db: Database) -> tuple[int, int]:
    """The evaluator's `last_seq`, and the newest event's seq."""
    async with db.begin() as conn:
        row = await conn.execute(
            text("SELECT last_seq, (SELECT max(seq) FROM event) FROM automation_cursor")
        )
        last, newest = row.one()
        return int(last), int(newest)


def test_an_event_whose_transaction_commits_late_is_evaluated(database_url: str) -> None:
    async def test(db: Database) -> None:
        await add_automation(db, "on-slow", {"expect": ["slow.done"]})
        assert await evaluator.run_once(db) == 0
        resource = {"headrace.resource.id": "job"}
        later = datetime.now(UTC) + timedelta(hours=1)  # no grace: time does not pass a gap
        async with db.engine.connect() as slow:
            transaction = await slow.begin()
            # More events than a pass reads, then the one that fires: all its seqs are taken,
            # none committed.
            await slow.execute(
                text(
                    "INSERT INTO event (id, event, occurred, resource_id, resource) "
                    "SELECT gen_random_uuid(), 'bulk.row', now(), 'job', '{}'::jsonb "
                    "FROM generate_series(1, :n)"
                ),
                {"n": evaluator.BATCH + 100},
            )
            await event_record(slow, "slow.done", resource)
            async with db.begin() as conn:
                await event_record(conn, "fast.done", resource)
            for _ in range(3):
                assert await evaluator.run_once(db, later) == 0
            last, newest = await cursor_position(db)
            assert last < newest - 1  # stopped below the slow event
            await transaction.commit()
        fired = [await evaluator.run_once(db, later) for _ in range(3)]
        assert sum(fired) == 1, fired
        assert await firing_events(db) == ["slow.done"]
        last, newest = await cursor_position(db)
        assert last == newest

        # A rolled-back insert leaves a gap the cursor passes once its transaction ended.
        async with db.engine.connect() as aborted:
            transaction = await aborted.begin()
            await event_record(aborted, "slow.done", resource)
            async with db.begin() as conn:
                await event_record(conn, "fast.done", resource)
            assert await evaluator.run_once(db, later) == 0
            assert (await cursor_position(db))[0] < (await cursor_position(db))[1]
            await transaction.rollback()
        assert await evaluator.run_once(db, later) == 0
        last, newest = await cursor_position(db)
        assert last == newest
        assert len(await firing_events(db)) == 1

    run(database_url, test)


async def firing_events(db: Database) -> list[str]:
    """The names of the events that fired automations, oldest first."""
    async with db.begin() as conn:
        rows = await conn.execute(
            text("SELECT event ->> 'event' FROM automation_firing ORDER BY fired")
        )
        return [str(name) for name in rows.scalars()]


def test_an_event_insert_has_its_transaction_id_before_it_draws_a_seq(database_url: str) -> None:
    """What the cursor's gap rule stands on (migration 0020): the row's values, its seq
    among them, are computed after the transaction got its id."""

    async def test(db: Database) -> None:
        async with db.begin() as conn:
            inserted = await conn.execute(
                text(
                    "INSERT INTO event (id, event, occurred, resource_id, resource) "
                    "SELECT gen_random_uuid(), 'probe', now(), 'r', '{}'::jsonb "
                    "WHERE pg_current_xact_id_if_assigned() IS NOT NULL"
                )
            )
            assert inserted.rowcount == 1

    run(database_url, test)
