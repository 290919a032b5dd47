"""Retention: `retention.run_once` with pinned clocks, and `headrace server database vacuum`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, create_engine, pool, text

from headrace_service.db import Database, sqlalchemy_url
from headrace_service.db import create_engine as create_async_engine
from headrace_service.loops import retention

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
CLI = [sys.executable, "-m", "headrace.cli.main"]
TABLES = ("flow_run", "flow_run_state", "task_run", "task_run_state", "log", "artifact")


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The live server's retention loop runs often enough for a test to see it.
    return {"retention_interval_seconds": 0.2, "retention_runs_days": 7}


@pytest.fixture
def sql(database_url: str) -> Iterator[Connection]:
    engine = create_engine(
        sqlalchemy_url(database_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def add_run(sql: Connection, *, state: str, created: datetime, end: datetime | None) -> str:
    """A flow run with one state, one task run (with a state), one log line and one artifact."""
    flow_id = sql.execute(
        text(
            "INSERT INTO flow (name) VALUES (:n) ON CONFLICT (name) DO UPDATE SET name = :n "
            "RETURNING id"
        ),
        {"n": "etl"},
    ).scalar_one()
    run_id = str(uuid.uuid4())
    task_id = str(uuid.uuid4())
    params = {"run": run_id, "task": task_id, "flow": flow_id, "state": state}
    params |= {"created": created, "end": end}
    for statement in (
        "INSERT INTO flow_run (id, name, flow_id, state_type, state_name, created, end_time, "
        "next_scheduled_start_time) VALUES (:run, 'r', :flow, :state, 'x', :created, :end, "
        "CASE WHEN CAST(:state AS state_type) = 'SCHEDULED' "
        "THEN CAST(:created AS timestamptz) END)",
        "INSERT INTO flow_run_state (flow_run_id, type, name, timestamp) "
        "VALUES (:run, :state, 'x', :created)",
        "INSERT INTO task_run (id, flow_run_id, name, task_key, dynamic_key, state_type, "
        "state_name, state_timestamp) VALUES (:task, :run, 't', 'k', '0', :state, 'x', :created)",
        "INSERT INTO task_run_state (id, task_run_id, type, name, timestamp) "
        "VALUES (gen_random_uuid(), :task, :state, 'x', :created)",
        "INSERT INTO log (flow_run_id, level, name, message, timestamp, received) "
        "VALUES (:run, 20, 'l', 'm', coalesce(:end, :created), coalesce(:end, :created))",
        "INSERT INTO artifact (type, data, flow_run_id, task_run_id, created) "
        "VALUES ('markdown', '\"# report\"', :run, :task, :created)",
    ):
        sql.execute(text(statement), params)
    return run_id


def add_logs(sql: Connection, run_id: str, *timestamps: datetime) -> None:
    """Lines written and received at each of `timestamps`."""
    for when in timestamps:
        sql.execute(
            text(
                "INSERT INTO log (flow_run_id, level, name, message, timestamp, received) "
                "VALUES (:run, 20, 'l', 'm', :t, :t)"
            ),
            {"run": run_id, "t": when},
        )


def counts(sql: Connection) -> dict[str, int]:
    return {t: sql.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def run_ids(sql: Connection) -> set[str]:
    return {str(r) for r in sql.execute(text("SELECT id FROM flow_run")).scalars()}


def retain(
    database_url: str, now: datetime, policy: retention.RetentionPolicy
) -> retention.RetentionResult:
    async def once() -> retention.RetentionResult:
        db = Database(create_async_engine(database_url, pool_size=2, pool_timeout=10))
        try:
            return await retention.run_once(db, now, policy=policy)
        finally:
            await db.dispose()

    return asyncio.run(once())


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def test_old_finished_runs_go_with_everything_they_own_and_unfinished_ones_stay(
    sql: Connection, database_url: str
) -> None:
    old_done = add_run(sql, state="COMPLETED", created=days_ago(41), end=days_ago(40))
    old_failed = add_run(sql, state="FAILED", created=days_ago(41), end=days_ago(31))
    recent_done = add_run(sql, state="COMPLETED", created=days_ago(41), end=days_ago(29))
    old_running = add_run(sql, state="RUNNING", created=days_ago(90), end=None)
    old_waiting = add_run(sql, state="SCHEDULED", created=days_ago(90), end=None)
    policy = retention.RetentionPolicy(runs_days=30, logs_days=None, batch_size=1)

    result = retain(database_url, NOW, policy)

    assert (result.leader, result.runs_deleted, result.logs_deleted) == (True, 2, 0)
    assert run_ids(sql) == {recent_done, old_running, old_waiting}
    assert old_done not in run_ids(sql) and old_failed not in run_ids(sql)
    # Cascades: each remaining run still owns exactly its one row in every table.
    assert counts(sql) == dict.fromkeys(TABLES, 3)


def test_a_run_deleted_any_way_takes_its_log_lines_with_it(sql: Connection) -> None:
    # log.flow_run_id has no foreign key (migration 0021): a trigger on flow_run deletes the
    # lines, for a run deleted by itself and for runs deleted by the cascade of their flow's.
    alone = add_run(sql, state="COMPLETED", created=days_ago(2), end=days_ago(1))
    add_logs(sql, alone, days_ago(1), days_ago(1))
    kept = add_run(sql, state="COMPLETED", created=days_ago(2), end=days_ago(1))
    sql.execute(text("DELETE FROM flow_run WHERE id = :id"), {"id": alone})
    assert counts(sql)["log"] == 1
    assert sql.execute(text("SELECT flow_run_id::text FROM log")).scalar_one() == kept

    other_flow = sql.execute(text("INSERT INTO flow (name) VALUES ('other') RETURNING id"))
    flow_id = other_flow.scalar_one()
    sql.execute(text("UPDATE flow_run SET flow_id = :f WHERE id = :id"), {"f": flow_id, "id": kept})
    sql.execute(text("DELETE FROM flow WHERE id = :f"), {"f": flow_id})
    assert run_ids(sql) == set() and counts(sql)["log"] == 0


def test_artifacts_go_with_their_run_and_those_made_outside_a_run_stay(
    sql: Connection, database_url: str
) -> None:
    old_done = add_run(sql, state="COMPLETED", created=days_ago(41), end=days_ago(40))
    sql.execute(
        text(
            "INSERT INTO artifact (key, type, data, created) "
            "VALUES ('manual', 'markdown', '\"by hand\"', :t)"
        ),
        {"t": days_ago(400)},
    )
    retain(database_url, NOW, retention.RetentionPolicy(runs_days=30, logs_days=None))
    left = sql.execute(text("SELECT key, flow_run_id FROM artifact")).all()
    assert [(key, run) for key, run in left] == [("manual", None)]
    assert old_done not in run_ids(sql)


def test_runs_are_kept_forever_by_default_and_logs_for_30_days_in_bounded_batches(
    sql: Connection, database_url: str
) -> None:
    run = add_run(sql, state="COMPLETED", created=days_ago(400), end=days_ago(400))
    add_logs(sql, run, days_ago(31), days_ago(30.5), days_ago(29), days_ago(1))
    default = retention.RetentionPolicy()
    assert (default.runs_days, default.logs_days) == (None, 30)
    bounded = retention.RetentionPolicy(batch_size=2, max_batches=1)

    first = retain(database_url, NOW, bounded)  # 3 old lines, but one batch of 2 per pass
    assert (first.runs_deleted, first.logs_deleted) == (0, 2)
    second = retain(database_url, NOW, bounded)
    assert second.logs_deleted == 1
    assert retain(database_url, NOW, bounded).logs_deleted == 0
    assert counts(sql)["log"] == 2 and run_ids(sql) == {run}
    # A clock 10 days later expires one more line.
    assert retain(database_url, days_ago(-10), bounded).logs_deleted == 1


def test_another_replica_holding_the_lock_makes_a_pass_skip(
    sql: Connection, database_url: str
) -> None:
    add_run(sql, state="COMPLETED", created=days_ago(41), end=days_ago(40))
    policy = retention.RetentionPolicy(runs_days=1, logs_days=1)
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": retention.RETENTION_LOCK_KEY})
        result = retain(database_url, NOW, policy)
    engine.dispose()
    assert (result.leader, result.runs_deleted) == (False, 0)
    assert counts(sql)["flow_run"] == 1
    assert retain(database_url, NOW, policy).runs_deleted == 1


def test_the_vacuum_command_deletes_what_is_older_than_asked_then_vacuums(
    sql: Connection, database_url: str
) -> None:
    now = datetime.now(UTC)
    old = add_run(sql, state="CANCELLED", created=days_ago(12, now), end=days_ago(11, now))
    young = add_run(sql, state="COMPLETED", created=days_ago(3, now), end=days_ago(2, now))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_DATABASE_URL"] = database_url
    done = subprocess.run(
        [*CLI, "server", "database", "vacuum", "--older-than-days", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "deleted 1 finished flow runs and 1 log lines; vacuumed" in done.stdout
    assert old not in run_ids(sql) and young in run_ids(sql)
    vacuumed = sql.execute(
        text("SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'log'")
    ).scalar_one()
    assert vacuumed

    refused = subprocess.run(
        [*CLI, "server", "database", "vacuum", "--older-than-days", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_the_api_process_runs_the_retention_loop(sql: Connection, live_server: object) -> None:
    now = datetime.now(UTC)
    old = add_run(sql, state="COMPLETED", created=days_ago(9, now), end=days_ago(8, now))
    kept = add_run(sql, state="COMPLETED", created=days_ago(6, now), end=days_ago(6, now))
    add_logs(sql, kept, days_ago(31, now))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (old in run_ids(sql) or counts(sql)["log"] > 1):
        time.sleep(0.1)
    assert run_ids(sql) == {kept}
    assert counts(sql)["log"] == 1  # the kept run's recent line; the 31-day-old one is gone


def test_events_are_kept_7_days_by_default(sql: Connection, database_url: str) -> None:
    for name, received in (("old", days_ago(8)), ("older", days_ago(30)), ("new", days_ago(6))):
        sql.execute(
            text(
                "INSERT INTO event (id, event, occurred, resource_id, resource, received) "
                "VALUES (gen_random_uuid(), :name, :t, 'r', "
                '\'{"headrace.resource.id": "r"}\', :t)'
            ),
            {"name": name, "t": received},
        )
    assert retention.RetentionPolicy().events_days == 7
    done = retain(database_url, NOW, retention.RetentionPolicy())
    assert done.events_deleted == 2
    kept = sql.execute(text("SELECT event FROM event")).scalars().all()
    assert kept == ["new"]
    forever = retention.RetentionPolicy(events_days=None)
    assert retain(database_url, days_ago(-30), forever).events_deleted == 0
