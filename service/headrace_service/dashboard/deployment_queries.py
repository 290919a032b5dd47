"""Reads behind the deployment pages that the deployments store does not offer: schedules and
the next runs of each deployment."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.schedules import Schedule
from headrace_service.schedules import InvalidSchedule, next_times

_SCHEDULE = TypeAdapter(Schedule)


async def schedules_of(
    conn: AsyncConnection, deployment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[RowMapping]]:
    rows = await conn.execute(
        text(
            "SELECT * FROM deployment_schedule WHERE deployment_id = ANY(:ids) "
            "ORDER BY deployment_id, created"
        ),
        {"ids": deployment_ids},
    )
    return grouped(rows, "deployment_id")


async def next_runs_of(
    conn: AsyncConnection, deployment_ids: list[uuid.UUID], now: datetime, per_deployment: int
) -> dict[uuid.UUID, list[RowMapping]]:
    """The next waiting runs of each deployment (ix_flow_run_deployment_created narrows it)."""
    rows = await conn.execute(
        text(
            """
            SELECT id, name, deployment_id, next_scheduled_start_time FROM (
                SELECT fr.*, row_number() OVER (
                    PARTITION BY deployment_id ORDER BY next_scheduled_start_time) AS nth
                FROM flow_run fr
                WHERE deployment_id = ANY(:ids) AND state_type = 'SCHEDULED'
                  AND next_scheduled_start_time >= :now
            ) ranked WHERE nth <= :n ORDER BY deployment_id, next_scheduled_start_time
            """
        ),
        {"ids": deployment_ids, "now": now, "n": per_deployment},
    )
    return grouped(rows, "deployment_id")


async def next_runs_of_schedules(
    conn: AsyncConnection, schedule_ids: list[uuid.UUID], now: datetime, per_schedule: int
) -> dict[uuid.UUID, list[RowMapping]]:
    """The next waiting runs each schedule made (ix_flow_run_schedule_waiting, per schedule)."""
    rows = await conn.execute(
        text(
            """
            SELECT s.id AS schedule_id, r.id, r.name, r.expected_start_time
            FROM unnest(CAST(:ids AS uuid[])) AS s(id)
            CROSS JOIN LATERAL (
                SELECT id, name, expected_start_time FROM flow_run
                WHERE schedule_id = s.id AND state_type = 'SCHEDULED' AND auto_scheduled
                  AND expected_start_time >= :now
                ORDER BY expected_start_time LIMIT :n
            ) r
            ORDER BY s.id, r.expected_start_time
            """
        ),
        {"ids": schedule_ids, "now": now, "n": per_schedule},
    )
    return grouped(rows, "schedule_id")


def fire_times(schedule: dict[str, Any], after: datetime, count: int) -> list[datetime]:
    """When a stored schedule fires next, for one the scheduler has not made runs of yet."""
    try:
        return next_times(_SCHEDULE.validate_python(schedule), after, count)
    except (ValidationError, InvalidSchedule):
        return []  # stored before a library change made it invalid: the scheduler logs it


def schedule_text(schedule: dict[str, object]) -> str:
    """One line a person reads: `cron 0 6 * * * (Europe/Paris)`, `every 3600 s`, `rrule ...`."""
    if "cron" in schedule:
        zone = schedule.get("timezone")
        return f"cron {schedule['cron']}" + (f" ({zone})" if zone else "")
    if "interval" in schedule:
        seconds = schedule["interval"]
        # Stored as a float: 3600.0 reads as "every 3600 s".
        shown = f"{seconds:g}" if isinstance(seconds, int | float) else seconds
        return f"every {shown} s"
    if "rrule" in schedule:
        return f"rrule {schedule['rrule']}"
    return str(schedule)


def grouped(rows: CursorResult[Any], key: str) -> dict[uuid.UUID, list[RowMapping]]:
    """The rows in lists by the value of their column `key`, in their order."""
    groups: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    for row in rows.mappings():
        groups[row[key]].append(row)
    return groups
