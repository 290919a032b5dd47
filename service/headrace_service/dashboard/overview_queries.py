"""Reads behind the overview: run counts over time, failures, upcoming and late runs, workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.store.flow_runs import RUN_SELECT


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    span: timedelta
    buckets: int

    @property
    def bucket_seconds(self) -> float:
        return self.span.total_seconds() / self.buckets


WINDOWS = {
    w.key: w
    for w in (
        Window("hour", "Last hour", timedelta(hours=1), 12),
        Window("day", "Last day", timedelta(days=1), 24),
        Window("week", "Last week", timedelta(days=7), 28),
    )
}


async def state_counts(
    conn: AsyncConnection, window: Window, now: datetime
) -> dict[int, dict[str, int]]:
    """{bucket: {state_type: runs created in it}}; bucket 0 is the oldest."""
    rows = await conn.execute(
        text(
            """
            SELECT floor(extract(epoch FROM (:now - created)) / :bucket)::int AS ago,
                   state_type, count(*) AS n
            FROM flow_run WHERE created > :since AND created <= :now
            GROUP BY 1, 2
            """
        ),
        {"now": now, "since": now - window.span, "bucket": window.bucket_seconds},
    )
    counts: dict[int, dict[str, int]] = {}
    for ago, state_type, n in rows:
        bucket = window.buckets - 1 - min(ago, window.buckets - 1)
        counts.setdefault(bucket, {})[state_type] = n
    return counts


async def _runs(
    conn: AsyncConnection, where_order: str, params: dict[str, object]
) -> list[RowMapping]:
    return list((await conn.execute(text(RUN_SELECT + where_order), params)).mappings())


async def recent_failures(conn: AsyncConnection, now: datetime, limit: int = 8) -> list[RowMapping]:
    return await _runs(
        conn,
        " WHERE fr.state_type IN ('FAILED', 'CRASHED') AND fr.created > :since"
        " ORDER BY fr.created DESC LIMIT :limit",
        {"since": now - timedelta(days=7), "limit": limit},
    )


async def upcoming_runs(conn: AsyncConnection, now: datetime, limit: int = 8) -> list[RowMapping]:
    return await _runs(
        conn,
        " WHERE fr.state_type = 'SCHEDULED' AND fr.next_scheduled_start_time >= :now"
        " ORDER BY fr.next_scheduled_start_time LIMIT :limit",
        {"now": now, "limit": limit},
    )


async def late_runs(conn: AsyncConnection, now: datetime, limit: int = 8) -> list[RowMapping]:
    """Waiting runs whose start time has passed (marked Late, or not yet by the marker)."""
    return await _runs(
        conn,
        " WHERE fr.state_type = 'SCHEDULED' AND fr.next_scheduled_start_time < :due"
        " ORDER BY fr.next_scheduled_start_time LIMIT :limit",
        {"due": now - timedelta(seconds=15), "limit": limit},
    )
