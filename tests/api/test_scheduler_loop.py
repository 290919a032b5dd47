"""The scheduler and the late-run marker on a real Postgres, with pinned clocks."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from headrace._state_types import StateType
from headrace_service import queue
from headrace_service.db import Database, create_engine
from headrace_service.loops import late_runs, scheduler
from headrace_service.loops.scheduler import SchedulerConfig
from headrace_service.store import schedules as store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EVERY_MINUTE = {"cron": "* * * * *", "timezone": "UTC"}
DAILY_6AM = {"cron": "0 6 * * *", "timezone": "UTC"}


def run(database_url: str, test: Callable[[Database], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(create_engine(database_url, pool_size=4, pool_timeout=10))
        try:
            await test(db)
        finally:
            await db.dispose()

    asyncio.run(main())


async def seed(
    db: Database,
    schedule: dict[str, Any],
    *,
    catchup: bool = False,
    name: str = "daily",
    schedule_parameters: dict[str, Any] | None = None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A flow, a pool with its default queue, a deployment, a schedule: their two ids."""
    async with db.begin() as conn:
        row = (
            await conn.execute(
                text(
                    """
                    WITH f AS (INSERT INTO flow (name) VALUES (:name)
                               ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id),
                         p AS (INSERT INTO work_pool (name, type) VALUES (:name, 'process')
                               RETURNING id),
                         q AS (INSERT INTO work_queue (work_pool_id, name, priority)
                               SELECT id, 'default', 7 FROM p RETURNING id, work_pool_id),
                         d AS (INSERT INTO deployment (flow_id, name, entrypoint, work_pool_id,
                                   work_queue_id, parameters, tags, catchup)
                               SELECT f.id, :name, 'flows.py:etl', q.work_pool_id, q.id,
                                   '{"day": "x", "n": 1}', ARRAY['nightly'], :catchup
                               FROM f, q RETURNING id)
                    INSERT INTO deployment_schedule (deployment_id, schedule, parameters)
                    SELECT d.id, CAST(:schedule AS jsonb), CAST(:parameters AS jsonb) FROM d
                    RETURNING deployment_id, id
                    """
                ),
                {
                    "name": name,
                    "catchup": catchup,
                    "schedule": json.dumps(schedule),
                    "parameters": json.dumps(schedule_parameters or {}),
                },
            )
        ).one()
    return row.deployment_id, row.id


async def waiting_runs(db: Database, schedule_id: uuid.UUID) -> list[Any]:
    async with db.begin() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT * FROM flow_run WHERE schedule_id = :id "
                        "AND state_type = 'SCHEDULED' ORDER BY expected_start_time"
                    ),
                    {"id": schedule_id},
                )
            ).mappings()
        )


async def count_runs(db: Database, where: str = "true") -> int:
    async with db.begin() as conn:
        value: int = (
            await conn.execute(text(f"SELECT count(*) FROM flow_run WHERE {where}"))
        ).scalar_one()
        return value


def test_a_pass_creates_at_least_min_runs_and_min_time_ahead(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, daily = await seed(db, DAILY_6AM, name="daily", schedule_parameters={"n": 2})
        _, minutely = await seed(db, EVERY_MINUTE, name="minutely")
        result = await scheduler.run_once(db, T0)
        assert result.leader and result.schedules == 2
        runs = await waiting_runs(db, daily)
        # A daily schedule: 3 runs (min_runs), though they reach 3 days ahead.
        assert [r["expected_start_time"] for r in runs] == [
            T0.replace(hour=6) + timedelta(days=d) for d in (1, 2, 3)
        ]
        first = runs[0]
        assert first["state_name"] == "Scheduled" and first["auto_scheduled"]
        assert first["next_scheduled_start_time"] == first["expected_start_time"]
        assert first["parameters"] == {"day": "x", "n": 2}  # the schedule's override wins
        assert first["tags"] == ["nightly"] and first["priority"] == 7
        assert first["idempotency_key"] == f"schedule:{daily}:2026-06-02T06:00:00+00:00"
        # Every minute: an hour ahead (min_time), from now on: 12:00 ... 13:00.
        minute_runs = await waiting_runs(db, minutely)
        assert len(minute_runs) == 61
        assert minute_runs[0]["expected_start_time"] == T0
        assert minute_runs[-1]["expected_start_time"] == T0 + timedelta(hours=1)
        assert result.created == 64
        async with db.begin() as conn:
            history = (
                await conn.execute(
                    text("SELECT type, name FROM flow_run_state WHERE flow_run_id = :id"),
                    {"id": first["id"]},
                )
            ).all()
        assert [tuple(h) for h in history] == [("SCHEDULED", "Scheduled")]

    run(database_url, test)


def test_later_passes_create_nothing_twice_and_only_top_up(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, minutely = await seed(db, EVERY_MINUTE)
        assert (await scheduler.run_once(db, T0)).created == 61
        again = await scheduler.run_once(db, T0)
        assert again.created == 0 and again.schedules == 0  # the bookmark says: nothing due
        later = await scheduler.run_once(db, T0 + timedelta(minutes=10))
        assert later.created == 10
        assert await count_runs(db) == 71
        # No worker took 12:00 .. 12:09: only the newest due run (12:10) still waits.
        assert later.skipped_overdue == 10
        times = [r["expected_start_time"] for r in await waiting_runs(db, minutely)]
        assert times == [T0 + timedelta(minutes=m) for m in range(10, 71)]

    run(database_url, test)


def test_two_schedulers_racing_create_each_run_once(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, minutely = await seed(db, EVERY_MINUTE)
        other = Database(create_engine(database_url, pool_size=2, pool_timeout=10))
        try:
            first, second = await asyncio.gather(
                scheduler.run_once(db, T0), scheduler.run_once(other, T0)
            )
            assert first.created + second.created == 61
            # A scheduler that lost its bookmark (a restart mid-pass, a clock stepped back)
            # plans the same times again: the idempotency keys refuse every one of them.
            async with db.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE deployment_schedule SET materialized_until = NULL, refill_at = NULL"
                    )
                )
            stepped_back = await scheduler.run_once(other, T0 - timedelta(seconds=30))
            assert stepped_back.planned > 0 and stepped_back.created == 0
        finally:
            await other.dispose()
        times = [r["expected_start_time"] for r in await waiting_runs(db, minutely)]
        assert len(times) == len(set(times)) == 61

    run(database_url, test)


def test_a_scheduler_without_the_lock_does_nothing(database_url: str) -> None:
    async def test(db: Database) -> None:
        await seed(db, EVERY_MINUTE)
        async with db.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": scheduler.SCHEDULER_LOCK_KEY}
            )
            assert (await scheduler.run_once(db, T0)).leader is False
        assert await count_runs(db) == 0

    run(database_url, test)


def test_pausing_a_schedule_removes_its_upcoming_runs_and_creates_nothing(
    database_url: str,
) -> None:
    async def test(db: Database) -> None:
        _, schedule_id = await seed(db, EVERY_MINUTE)
        await scheduler.run_once(db, T0)
        async with db.begin() as conn:
            # A run a worker already took stays; the not-yet-started ones go.
            claimed = (await waiting_runs(db, schedule_id))[0]["id"]
            await conn.execute(
                text(
                    "UPDATE flow_run SET state_type = 'PENDING', state_name = 'Pending', "
                    "next_scheduled_start_time = NULL WHERE id = :id"
                ),
                {"id": claimed},
            )
            current = await store.schedule_get(conn, schedule_id)
            assert current is not None
            assert await store.schedule_update(conn, current, {"active": False})
        assert await waiting_runs(db, schedule_id) == []
        assert await count_runs(db) == 1
        assert (await scheduler.run_once(db, T0 + timedelta(minutes=5))).created == 0
        # Resumed: runs from the resume time on, none for the paused stretch.
        async with db.begin() as conn:
            current = await store.schedule_get(conn, schedule_id)
            assert current is not None
            await store.schedule_update(conn, current, {"active": True})
        assert (await scheduler.run_once(db, T0 + timedelta(minutes=30))).created == 61
        runs = await waiting_runs(db, schedule_id)
        assert runs[0]["expected_start_time"] == T0 + timedelta(minutes=30)

    run(database_url, test)


def test_pausing_the_deployment_removes_upcoming_runs(database_url: str) -> None:
    async def test(db: Database) -> None:
        deployment_id, schedule_id = await seed(db, EVERY_MINUTE)
        await scheduler.run_once(db, T0)
        async with db.begin() as conn:
            await conn.execute(text("UPDATE deployment SET paused = true"))
            assert await store.deployment_sync_runs(conn, deployment_id) == 61
        assert await waiting_runs(db, schedule_id) == []
        assert (await scheduler.run_once(db, T0 + timedelta(minutes=1))).created == 0

    run(database_url, test)


def test_changed_deployment_defaults_replace_upcoming_runs(database_url: str) -> None:
    async def test(db: Database) -> None:
        deployment_id, schedule_id = await seed(db, DAILY_6AM)
        await scheduler.run_once(db, T0)
        async with db.begin() as conn:
            assert await store.deployment_sync_runs(conn, deployment_id) == 0  # nothing changed
            await conn.execute(text("""UPDATE deployment SET parameters = '{"day": "y"}'"""))
            assert await store.deployment_sync_runs(conn, deployment_id) == 3
        await scheduler.run_once(db, T0)
        runs = await waiting_runs(db, schedule_id)
        assert [r["parameters"] for r in runs] == [{"day": "y"}] * 3

    run(database_url, test)


def test_no_burst_after_downtime_without_catchup(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, schedule_id = await seed(db, EVERY_MINUTE)
        await scheduler.run_once(db, T0)  # 12:00 .. 13:00 made
        # The server (and its workers) were down for two hours.
        back = T0 + timedelta(hours=2)
        result = await scheduler.run_once(db, back)
        assert result.skipped_overdue == 60  # of the 61 made before, only the newest stays
        assert result.missed_not_created == 59  # 13:01 .. 13:59 were never made
        due_now = [
            r for r in await waiting_runs(db, schedule_id) if r["expected_start_time"] <= back
        ]
        assert [r["expected_start_time"] for r in due_now] == [T0 + timedelta(hours=1), back]
        # 13:00 (made before, newest missed) and 14:00 (now): due ones just before `back`
        # are skipped at the next pass, never run as a burst.
        later = await scheduler.run_once(db, back + timedelta(seconds=1))
        assert later.skipped_overdue == 1
        skipped = await count_runs(db, "state_type = 'CANCELLED' AND state_name = 'Skipped'")
        assert skipped == 61

    run(database_url, test)


def test_catchup_creates_the_missed_runs(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, schedule_id = await seed(db, EVERY_MINUTE, catchup=True)
        await scheduler.run_once(db, T0)
        back = T0 + timedelta(hours=2)
        result = await scheduler.run_once(db, back)
        assert result.skipped_overdue == 0 and result.missed_not_created == 0
        times = [r["expected_start_time"] for r in await waiting_runs(db, schedule_id)]
        # Every minute from 12:00 to 15:00: the made ones, the missed ones, an hour ahead.
        assert times == [T0 + timedelta(minutes=m) for m in range(181)]

    run(database_url, test)


def test_a_pass_creates_the_soonest_runs_first_within_its_budget(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, hourly = await seed(db, {"cron": "0 * * * *"}, name="hourly")
        _, minutely = await seed(db, EVERY_MINUTE, name="minutely")
        config = SchedulerConfig(max_runs_per_pass=10)
        first = await scheduler.run_once(db, T0 + timedelta(seconds=1), config=config)
        assert first.created == 10
        assert len(await waiting_runs(db, minutely)) == 10  # 12:01 .. 12:10 are soonest
        assert await waiting_runs(db, hourly) == []
        for _ in range(10):
            await scheduler.run_once(db, T0 + timedelta(seconds=1), config=config)
        assert len(await waiting_runs(db, minutely)) == 60
        assert len(await waiting_runs(db, hourly)) == 3

    run(database_url, test)


def test_runs_not_claimed_in_time_become_late_and_stay_claimable(database_url: str) -> None:
    async def test(db: Database) -> None:
        _, schedule_id = await seed(db, DAILY_6AM)
        await scheduler.run_once(db, T0)
        first = (await waiting_runs(db, schedule_id))[0]
        start = first["expected_start_time"]
        assert (
            await late_runs.run_once(db, start + timedelta(seconds=10), late_after_seconds=15) == 0
        )
        assert (
            await late_runs.run_once(db, start + timedelta(seconds=20), late_after_seconds=15) == 1
        )
        assert (
            await late_runs.run_once(db, start + timedelta(seconds=30), late_after_seconds=15) == 0
        )
        runs = await waiting_runs(db, schedule_id)
        assert (runs[0]["state_type"], runs[0]["state_name"]) == ("SCHEDULED", "Late")
        assert [r["state_name"] for r in runs[1:]] == ["Scheduled", "Scheduled"]
        async with db.begin() as conn:
            history = (
                await conn.execute(
                    text(
                        "SELECT name FROM flow_run_state WHERE flow_run_id = :id ORDER BY timestamp"
                    ),
                    {"id": first["id"]},
                )
            ).scalars()
            assert list(history) == ["Scheduled", "Late"]
            # Still claimable: a Late run moves to PENDING like any waiting run.
            change = await queue.flow_run_set_state(
                conn,
                first["id"],
                state_type=StateType.PENDING,
                state_name="Pending",
                message=None,
            )
            assert change.decision.accept

    run(database_url, test)


def test_the_server_runs_the_scheduler_by_itself(http: Any, queue_api: Any) -> None:
    """No test-driven pass here: the server's APScheduler job makes the runs."""
    queue_api.pool("nightly")
    deployment = queue_api.deploy(pool="nightly", schedules=[{"schedule": {"interval": 2}}])
    deadline = time.monotonic() + 20
    runs: list[Any] = []
    while time.monotonic() < deadline and not runs:
        answer = http.get("/flow_runs", params={"deployment_id": deployment["id"]})
        runs = answer.json()["items"]
        time.sleep(0.2)
    assert runs, "the scheduler loop made no run within 20 s"
    assert all(r["auto_scheduled"] for r in runs)
