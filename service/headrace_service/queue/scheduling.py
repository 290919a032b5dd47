"""Scheduled runs: the scheduler's batch insert, unscheduling, late marking, missed runs."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.queue.state_columns import NOW, new_run_columns, state_set
from headrace_service.queue.state_tail import changes_from, state_tail

# --- Scheduled runs: the scheduler's batch insert, unscheduling, late marking, missed runs ---


@dataclass(frozen=True)
class ScheduledRun:
    """One run the scheduler materialises; `idempotency_key` is unique per (schedule, time)."""

    name: str
    flow_id: uuid.UUID
    deployment_id: uuid.UUID
    schedule_id: uuid.UUID
    work_pool_id: uuid.UUID
    work_queue_id: uuid.UUID | None
    priority: int
    parameters: dict[str, Any]
    tags: list[str]
    max_retries: int
    retry_delay_seconds: float
    start: datetime
    idempotency_key: str
    # The deployment's concurrency key rendered with `parameters` (None: no key).
    concurrency_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flow_id": str(self.flow_id),
            "deployment_id": str(self.deployment_id),
            "schedule_id": str(self.schedule_id),
            "work_pool_id": str(self.work_pool_id),
            "work_queue_id": str(self.work_queue_id) if self.work_queue_id else None,
            "priority": self.priority,
            "parameters": self.parameters,
            "tags": self.tags,
            "max_retries": self.max_retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "start": self.start.isoformat(),
            "idempotency_key": self.idempotency_key,
            "concurrency_key": self.concurrency_key,
        }


_NEW_RUN = new_run_columns("CAST('SCHEDULED' AS state_type)", "r.start")

_CREATE_SCHEDULED = f"""
WITH inserted AS (
    INSERT INTO flow_run (
        name, flow_id, deployment_id, work_pool_id, work_queue_id, schedule_id,
        parameters, tags, state_type, state_name, state_timestamp, run_count,
        max_retries, retry_delay_seconds, priority, expected_start_time,
        {", ".join(_NEW_RUN)}, idempotency_key, concurrency_key, auto_scheduled, created,
        updated)
    SELECT r.name, r.flow_id, r.deployment_id, r.work_pool_id, r.work_queue_id,
        r.schedule_id, r.parameters, r.tags, 'SCHEDULED', 'Scheduled',
        {NOW}, 0, r.max_retries, r.retry_delay_seconds,
        r.priority, r.start, {", ".join(_NEW_RUN.values())}, r.idempotency_key,
        r.concurrency_key, true,
        {NOW}, {NOW}
    FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS r(
        name text, flow_id uuid, deployment_id uuid, work_pool_id uuid,
        work_queue_id uuid, schedule_id uuid, parameters jsonb, tags text[],
        max_retries int, retry_delay_seconds float8, priority int,
        start timestamptz, idempotency_key text, concurrency_key text)
    ORDER BY r.start
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
), state_changes AS ({
    changes_from("inserted", old_type="CAST(NULL AS state_type)", old_name="CAST(NULL AS text)")
})
{state_tail()}
SELECT count(*) AS created FROM inserted
"""


async def flow_run_create_scheduled_many(
    conn: AsyncConnection, runs: list[ScheduledRun], now: datetime | None = None
) -> int:
    """Insert auto-scheduled SCHEDULED runs and their first states in one statement; a run
    whose idempotency key exists already is skipped. Returns how many were inserted."""
    if not runs:
        return 0
    rows = (
        await conn.execute(
            text(_CREATE_SCHEDULED),
            {"runs": json.dumps([run.as_json() for run in runs]), "now": now},
        )
    ).one()
    created: int = rows.created
    return created


async def flow_run_delete_future_auto_scheduled(
    conn: AsyncConnection, schedule_ids: list[uuid.UUID]
) -> int:
    """Delete the not-yet-started auto-scheduled runs of these schedules (SCHEDULED, never
    run); a run a worker claimed meanwhile is no longer SCHEDULED and stays. How many."""
    if not schedule_ids:
        return 0
    deleted: int = (
        await conn.execute(
            text(
                """
                WITH gone AS (
                    DELETE FROM flow_run
                    WHERE schedule_id = ANY(CAST(:ids AS uuid[]))
                      AND state_type = 'SCHEDULED' AND auto_scheduled AND run_count = 0
                    RETURNING id
                )
                SELECT count(*) FROM gone
                """
            ),
            {"ids": schedule_ids},
        )
    ).scalar_one()
    return deleted


LATE_BATCH = 1000

_MARK_LATE = f"""
WITH late AS (
    SELECT id, state_type AS old_type, state_name AS old_name FROM flow_run
    WHERE state_type = 'SCHEDULED' AND state_name = 'Scheduled'
      AND next_scheduled_start_time < {NOW} - make_interval(secs => :late_after)
    ORDER BY next_scheduled_start_time
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE flow_run fr SET {state_set("fr.state_type", "'Late'", ":message", keeps_holder="true")}
    FROM late WHERE fr.id = late.id
    RETURNING fr.*, late.old_type, late.old_name
), state_changes AS ({changes_from("marked")})
{state_tail()}
SELECT id FROM marked
"""


async def flow_run_mark_late(
    conn: AsyncConnection, *, late_after_seconds: float, now: datetime | None = None
) -> list[uuid.UUID]:
    """Rename waiting runs more than `late_after_seconds` past their start time from
    Scheduled to Late (type stays SCHEDULED: still claimable), with a history row each."""
    rows = await conn.execute(
        text(_MARK_LATE),
        {
            "now": now,
            "late_after": late_after_seconds,
            "batch": LATE_BATCH,
            "message": f"not claimed within {late_after_seconds:g}s of its start time",
        },
    )
    return list(rows.scalars())


_SKIP_MISSED = f"""
WITH overdue AS (
    SELECT fr.id, row_number() OVER (
        PARTITION BY fr.schedule_id
        ORDER BY fr.next_scheduled_start_time DESC, fr.id DESC) AS rank
    FROM flow_run fr JOIN deployment d ON d.id = fr.deployment_id
    WHERE fr.state_type = 'SCHEDULED'
      AND fr.next_scheduled_start_time <= {NOW}
      AND fr.auto_scheduled AND fr.run_count = 0
      AND fr.schedule_id IS NOT NULL AND NOT d.catchup
), doomed AS (
    SELECT fr.id, fr.state_type AS old_type, fr.state_name AS old_name
    FROM flow_run fr JOIN overdue o ON o.id = fr.id
    WHERE o.rank > 1 AND fr.state_type = 'SCHEDULED'
    FOR UPDATE OF fr SKIP LOCKED
), cancelled AS (
    UPDATE flow_run fr SET {state_set("CAST('CANCELLED' AS state_type)", "'Skipped'", ":message")}
    FROM doomed WHERE fr.id = doomed.id
    RETURNING fr.*, doomed.old_type, doomed.old_name
), state_changes AS ({changes_from("cancelled")})
{state_tail()}
SELECT count(*) FROM cancelled
"""


async def flow_run_skip_missed(conn: AsyncConnection, now: datetime | None = None) -> int:
    """Of each schedule's overdue never-started runs, keep the newest and cancel the older
    ones as Skipped, unless the deployment asked for catch-up. How many were skipped.

    This is what stops a burst after downtime (of the server or of every worker): a schedule
    that missed ten times runs once, now, not ten times in a row."""
    message = (
        "skipped: a later run of the same schedule came due before this one started "
        "(the deployment has catchup off)"
    )
    skipped: int = (
        await conn.execute(
            text(_SKIP_MISSED),
            {"now": now, "message": message},
        )
    ).scalar_one()
    return skipped
