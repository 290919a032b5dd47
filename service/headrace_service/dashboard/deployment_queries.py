"""Reads behind the deployment pages that the deployments store does not offer: schedules and
the next runs of each deployment."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


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
    by_deployment: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    for row in rows.mappings():
        by_deployment[row["deployment_id"]].append(row)
    return by_deployment


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
    by_deployment: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    for row in rows.mappings():
        by_deployment[row["deployment_id"]].append(row)
    return by_deployment


def schedule_text(schedule: dict[str, object]) -> str:
    """One line a person reads: `cron 0 6 * * * (Europe/Paris)`, `every 3600 s`, `rrule ...`."""
    if "cron" in schedule:
        zone = schedule.get("timezone")
        return f"cron {schedule['cron']}" + (f" ({zone})" if zone else "")
    if "interval" in schedule:
        return f"every {schedule['interval']} s"
    if "rrule" in schedule:
        return f"rrule {schedule['rrule']}"
    return str(schedule)
