"""Reads behind the deployment pages that the deployments store does not offer: schedules and
the next runs of each deployment."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.schedules import Schedule
from headrace_service.schedule_budget import PASS_SECONDS, ScheduleTooSlow, within_budget
from headrace_service.schedules import next_times

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


def fire_times(
    schedules: list[RowMapping], after: datetime, count: int
) -> dict[uuid.UUID, list[datetime]]:
    """When stored schedules fire next, for those the scheduler has not made runs of yet.
    Bounded in time, all of them together: those that take too long (or that the scheduler
    marked) show no times."""
    times: dict[uuid.UUID, list[datetime]] = {}
    deadline = time.monotonic() + PASS_SECONDS
    for schedule in schedules:
        budget = deadline - time.monotonic()
        if budget <= 0:
            break
        if schedule["error"] is not None:
            continue
        try:
            compute = partial(_next_times_of, schedule["schedule"], after, count)
            times[schedule["id"]] = within_budget(compute, budget)
        except (ValueError, ArithmeticError, ScheduleTooSlow):
            continue  # the scheduler marks it with the reason at its next pass
    return times


def _next_times_of(schedule: dict[str, Any], after: datetime, count: int) -> list[datetime]:
    return next_times(_SCHEDULE.validate_python(schedule), after, count)


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
