"""Retention: old log lines and old finished flow runs are deleted, in small batches.

Each batch is one short transaction deleting at most `batch_size` rows, so no pass holds
long locks or bloats one transaction; a pass stops after `max_batches` batches per kind and
the next pass continues. Deleting a flow run cascades (foreign keys) to its states, task
runs, task run states, logs and artifacts (artifacts made outside any run are kept until
deleted by hand: `headrace artifact delete`). Only terminal runs are deleted, never a waiting
or running one. Like the other loops, each batch takes a transaction-level advisory lock, so one API
replica deletes while the others skip.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import TextClause, create_engine, pool, text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.db import Database, Pooler, sqlalchemy_url
from headrace_service.db import create_engine as create_async_engine
from headrace_service.models import TERMINAL_SQL
from headrace_service.settings import ServerSettings

log = logging.getLogger("headrace.retention")

# Fixed advisory-lock key of the retention loop (reaper 7_142_101, scheduler ..102, late ..103).
RETENTION_LOCK_KEY = 7_142_104
DEFAULT_MAX_BATCHES = 100
# The tables retention shrinks; `vacuum` reclaims their space and refreshes their statistics.
VACUUMED_TABLES = (
    "flow_run",
    "flow_run_state",
    "task_run",
    "task_run_state",
    "log",
    "artifact",
    "event",
    "event_outbox",
)

# `created <= end_time` always, so the extra `created` bound is implied by the `end_time` one;
# it lets the planner use ix_flow_run_state_created instead of scanning the whole queue table.
# FOR UPDATE SKIP LOCKED: a run being written right now is left for the next pass.
_DELETE_RUNS = text(
    f"""
    DELETE FROM flow_run WHERE id IN (
        SELECT id FROM flow_run
        WHERE state_type IN {TERMINAL_SQL} AND end_time < :cutoff AND created < :cutoff
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)
# By `received`, the server's clock: a client's `timestamp` may be days wrong. Oldest ids
# first: log ids grow with insertion, so the old lines are found first.
_DELETE_LOGS = text(
    """
    DELETE FROM log WHERE id IN (
        SELECT id FROM log WHERE received < :cutoff ORDER BY id LIMIT :limit
    )
    """
)

# Events by `received`, oldest `seq` first (seq grows with arrival, like log ids); outbox rows
# already relayed go with them.
_DELETE_EVENTS = text(
    """
    DELETE FROM event WHERE seq IN (
        SELECT seq FROM event WHERE received < :cutoff ORDER BY seq LIMIT :limit
    )
    """
)
_DELETE_RELAYED_OUTBOX = text(
    """
    DELETE FROM event_outbox WHERE id IN (
        SELECT id FROM event_outbox
        WHERE processed_at < :cutoff ORDER BY id LIMIT :limit
    )
    """
)


@dataclass(frozen=True)
class RetentionPolicy:
    runs_days: int | None = None  # None: forever
    logs_days: int | None = 30
    events_days: int | None = 7
    batch_size: int = 1000
    max_batches: int | None = DEFAULT_MAX_BATCHES  # per kind and pass; None: until done

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> RetentionPolicy:
        return cls(
            runs_days=settings.retention_runs_days,
            logs_days=settings.retention_logs_days,
            events_days=settings.retention_events_days,
            batch_size=settings.retention_batch_size,
        )


@dataclass
class RetentionResult:
    leader: bool = True  # False: another replica holds the lock
    runs_deleted: int = 0
    logs_deleted: int = 0
    events_deleted: int = 0


async def run_once(
    db: Database, now: datetime | None = None, *, policy: RetentionPolicy | None = None
) -> RetentionResult:
    """Delete what is older than the policy at `now`."""
    now = now or datetime.now(UTC)
    policy = policy or RetentionPolicy()
    # Logs first: runs deleted afterwards take their remaining logs with them anyway.
    logs = await _expire(db, _DELETE_LOGS, policy.logs_days, now, policy)
    if logs is None:
        return RetentionResult(leader=False)
    runs = await _expire(db, _DELETE_RUNS, policy.runs_days, now, policy)
    if runs is None:
        return RetentionResult(leader=False, logs_deleted=logs)
    events = await _expire(db, _DELETE_EVENTS, policy.events_days, now, policy)
    if events is None:
        return RetentionResult(leader=False, logs_deleted=logs, runs_deleted=runs)
    await _expire(db, _DELETE_RELAYED_OUTBOX, policy.events_days, now, policy)
    if runs or logs or events:
        log.info(
            "retention deleted %d finished flow runs, %d log lines and %d events",
            runs,
            logs,
            events,
        )
    return RetentionResult(runs_deleted=runs, logs_deleted=logs, events_deleted=events)


async def _expire(
    db: Database, statement: TextClause, days: int | None, now: datetime, policy: RetentionPolicy
) -> int | None:
    if days is None:  # kept forever
        return 0
    return await _delete_batches(db, statement, now - timedelta(days=days), policy)


async def _delete_batches(
    db: Database, statement: TextClause, cutoff: datetime, policy: RetentionPolicy
) -> int | None:
    """Rows deleted by repeating `statement` until a short batch; None if not the leader."""
    deleted = 0
    batches = 0
    while policy.max_batches is None or batches < policy.max_batches:
        async with db.begin() as conn:
            if not await _lead(conn):
                return None if batches == 0 else deleted
            done = await conn.execute(statement, {"cutoff": cutoff, "limit": policy.batch_size})
            count = done.rowcount
        deleted += count
        batches += 1
        if count < policy.batch_size:
            break
    return deleted


async def _lead(conn: AsyncConnection) -> bool:
    locked = await conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY}
    )
    return bool(locked.scalar_one())


def vacuum(database_url: str) -> None:
    """VACUUM (ANALYZE) the tables retention shrinks (it cannot run inside a transaction)."""
    engine = create_engine(
        sqlalchemy_url(database_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            for table in VACUUMED_TABLES:
                conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    finally:
        engine.dispose()


def clean_up(
    database_url: str, policy: RetentionPolicy, *, pooler: Pooler = "none"
) -> RetentionResult:
    """One pass outside the API process (`headrace server database vacuum`)."""

    async def once() -> RetentionResult:
        engine = create_async_engine(database_url, pool_size=1, pool_timeout=30, pooler=pooler)
        db = Database(engine)
        try:
            return await run_once(db, policy=policy)
        finally:
            await db.dispose()

    return asyncio.run(once())
