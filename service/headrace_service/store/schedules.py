"""Schedules of deployments: create, read, change, delete, and what the scheduler reads.

Every change that makes a schedule's upcoming runs wrong (its definition, parameters, pausing,
deleting; pausing or changing the deployment) deletes those runs and resets the schedule's
bookmark, so the scheduler recreates them from the new definition at its next pass.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.schedules import DeploymentScheduleCreate
from headrace_service import queue


def schedule_json(schedule: Any) -> dict[str, Any]:
    """How a schedule model is stored (JSONB): its fields, without the unset anchor."""
    stored: dict[str, Any] = schedule.model_dump(mode="json", exclude_none=True)
    return stored


async def schedule_insert(
    conn: AsyncConnection, deployment_id: uuid.UUID, body: DeploymentScheduleCreate
) -> RowMapping:
    return (
        (
            await conn.execute(
                text(
                    """
                    INSERT INTO deployment_schedule (deployment_id, schedule, parameters, active)
                    VALUES (:deployment_id, CAST(:schedule AS jsonb), CAST(:parameters AS jsonb),
                            :active)
                    RETURNING *
                    """
                ),
                {
                    "deployment_id": deployment_id,
                    "schedule": json.dumps(schedule_json(body.schedule)),
                    "parameters": json.dumps(body.parameters),
                    "active": body.active,
                },
            )
        )
        .mappings()
        .one()
    )


async def schedule_get(conn: AsyncConnection, schedule_id: uuid.UUID) -> RowMapping | None:
    return (
        (
            await conn.execute(
                text("SELECT * FROM deployment_schedule WHERE id = :id"), {"id": schedule_id}
            )
        )
        .mappings()
        .first()
    )


async def schedule_list(conn: AsyncConnection, deployment_id: uuid.UUID) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    "SELECT * FROM deployment_schedule WHERE deployment_id = :id "
                    "ORDER BY created, id"
                ),
                {"id": deployment_id},
            )
        ).mappings()
    )


async def schedule_update(
    conn: AsyncConnection, current: RowMapping, changes: dict[str, Any]
) -> bool:
    """Apply a PATCH; a real change removes the schedule's upcoming runs. Whether it changed."""
    values = {
        "schedule": schedule_json(changes["schedule"])
        if "schedule" in changes
        else current["schedule"],
        "parameters": changes.get("parameters", current["parameters"]),
        "active": changes.get("active", current["active"]),
    }
    if all(values[field] == current[field] for field in values):
        return False
    await conn.execute(
        text(
            """
            UPDATE deployment_schedule SET schedule = CAST(:schedule AS jsonb),
                parameters = CAST(:parameters AS jsonb), active = :active, updated = now()
            WHERE id = :id
            """
        ),
        {
            "id": current["id"],
            "schedule": json.dumps(values["schedule"]),
            "parameters": json.dumps(values["parameters"]),
            "active": values["active"],
        },
    )
    await schedules_unschedule(conn, [current["id"]])
    return True


async def schedule_delete(conn: AsyncConnection, schedule_id: uuid.UUID) -> None:
    await schedules_unschedule(conn, [schedule_id])
    await conn.execute(text("DELETE FROM deployment_schedule WHERE id = :id"), {"id": schedule_id})


async def schedules_replace(
    conn: AsyncConnection, deployment_id: uuid.UUID, wanted: list[DeploymentScheduleCreate]
) -> None:
    """Make the deployment's schedules exactly `wanted` (deploying again): identical ones are
    kept with their upcoming runs; the others are deleted or created."""
    current = await schedule_list(conn, deployment_id)
    remaining = list(current)
    to_create = []
    for body in wanted:
        key = (schedule_json(body.schedule), body.parameters, body.active)
        match = next(
            (r for r in remaining if (r["schedule"], r["parameters"], r["active"]) == key), None
        )
        if match is None:
            to_create.append(body)
        else:
            remaining.remove(match)
    for row in remaining:
        await schedule_delete(conn, row["id"])
    for body in to_create:
        await schedule_insert(conn, deployment_id, body)


async def schedules_unschedule(conn: AsyncConnection, schedule_ids: list[uuid.UUID]) -> int:
    """Delete the schedules' not-yet-started runs and reset their bookmarks."""
    if not schedule_ids:
        return 0
    await conn.execute(
        text(
            "UPDATE deployment_schedule SET materialized_until = NULL, refill_at = NULL, "
            "error = NULL "
            "WHERE id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": schedule_ids},
    )
    return await queue.flow_run_delete_future_auto_scheduled(conn, schedule_ids)


async def deployment_unschedule(conn: AsyncConnection, deployment_id: uuid.UUID) -> int:
    """Remove the upcoming auto-scheduled runs of every schedule of a deployment."""
    rows = await schedule_list(conn, deployment_id)
    return await schedules_unschedule(conn, [row["id"] for row in rows])


async def deployment_sync_runs(conn: AsyncConnection, deployment_id: uuid.UUID) -> int:
    """After a deployment changed: remove the upcoming runs that no longer match it (paused,
    other parameters, pool, queue, tags or retries); the scheduler recreates them."""
    stale = (
        await conn.execute(
            text(
                """
                SELECT DISTINCT s.id FROM deployment_schedule s
                JOIN deployment d ON d.id = s.deployment_id
                JOIN flow_run fr ON fr.schedule_id = s.id
                    AND fr.state_type = 'SCHEDULED' AND fr.auto_scheduled AND fr.run_count = 0
                WHERE s.deployment_id = :id AND (
                    d.paused OR NOT s.active OR d.work_pool_id IS NULL
                    OR fr.parameters <> d.parameters || s.parameters
                    OR fr.tags <> d.tags
                    OR fr.work_pool_id IS DISTINCT FROM d.work_pool_id
                    OR fr.work_queue_id IS DISTINCT FROM
                        coalesce(d.work_queue_id, fr.work_queue_id)
                    OR fr.max_retries <> d.max_retries
                    OR fr.retry_delay_seconds <> d.retry_delay_seconds)
                """
            ),
            {"id": deployment_id},
        )
    ).scalars()
    return await schedules_unschedule(conn, list(stale))


# --- What the scheduler reads and writes ---

DUE_SELECT = """
    SELECT s.id AS schedule_id, s.deployment_id, s.schedule, s.parameters AS schedule_parameters,
           s.materialized_until, d.flow_id, d.parameters, d.tags, d.work_pool_id,
           coalesce(d.work_queue_id, dq.id) AS work_queue_id,
           coalesce(wq.priority, dq.priority, 1) AS priority,
           d.max_retries, d.retry_delay_seconds, d.catchup, d.concurrency_key,
           coalesce(upcoming.times, '{}') AS upcoming
    FROM deployment_schedule s
    JOIN deployment d ON d.id = s.deployment_id
    LEFT JOIN work_queue wq ON wq.id = d.work_queue_id
    LEFT JOIN work_queue dq
        ON d.work_queue_id IS NULL AND dq.work_pool_id = d.work_pool_id AND dq.name = 'default'
    LEFT JOIN LATERAL (
        SELECT array_agg(t ORDER BY t) AS times FROM (
            SELECT fr.expected_start_time AS t FROM flow_run fr
            WHERE fr.schedule_id = s.id AND fr.state_type = 'SCHEDULED' AND fr.auto_scheduled
              AND fr.expected_start_time >= :now
            ORDER BY fr.expected_start_time DESC
            LIMIT :max_runs) AS waiting
    ) AS upcoming ON true
    WHERE s.active AND NOT d.paused AND d.work_pool_id IS NOT NULL
      AND (s.refill_at IS NULL OR s.refill_at <= :now)
    -- Held until the pass commits: a concurrent change of the schedule or its deployment waits
    -- for it (then removes what it made), and one being changed is skipped this pass.
    FOR NO KEY UPDATE OF s, d SKIP LOCKED
"""


async def schedules_due(conn: AsyncConnection, now: datetime, max_runs: int) -> list[RowMapping]:
    """Active schedules of runnable deployments whose upcoming runs need topping up, each with
    the start times of its upcoming runs (at most `max_runs`, ascending)."""
    return list(
        (await conn.execute(text(DUE_SELECT), {"now": now, "max_runs": max_runs})).mappings()
    )


@dataclass(frozen=True)
class Bookmark:
    schedule_id: uuid.UUID
    materialized_until: datetime | None
    refill_at: datetime
    # Why the schedule's times could not be computed; None clears an earlier error.
    error: str | None = None


async def schedule_bookmarks_set(conn: AsyncConnection, bookmarks: list[Bookmark]) -> None:
    if not bookmarks:
        return
    rows = [
        {
            "id": str(b.schedule_id),
            "until": b.materialized_until.isoformat() if b.materialized_until else None,
            "refill": b.refill_at.isoformat(),
            "error": b.error,
        }
        for b in bookmarks
    ]
    await conn.execute(
        text(
            """
            UPDATE deployment_schedule s
            SET materialized_until = coalesce(b.until, s.materialized_until),
                refill_at = b.refill, error = b.error
            FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                AS b(id uuid, until timestamptz, refill timestamptz, error text)
            WHERE s.id = b.id
            """
        ),
        {"rows": json.dumps(rows)},
    )
