"""Logs: batch insert and tail reads.

Reads go in id order (the order lines arrived in, batch by batch) so a reader that passes the
last id back as `after` never misses nor repeats a line.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.logs import LogCreate
from headrace_service.store.run_activity import run_activity_announce


async def logs_insert(
    conn: AsyncConnection, logs: list[LogCreate], *, announce: bool = True
) -> int:
    if not logs:
        return 0
    await conn.execute(
        text(
            """
            INSERT INTO log (flow_run_id, task_run_id, level, name, message, timestamp)
            SELECT :flow_run_id, :task_run_id, :level, :name, :message, :timestamp
            WHERE EXISTS (SELECT 1 FROM flow_run WHERE id = :flow_run_id)
            """
        ),
        [
            {
                "flow_run_id": item.flow_run_id,
                "task_run_id": item.task_run_id,
                "level": item.level,
                "name": item.name,
                # Postgres text cannot hold NUL; keep the line, visibly.
                "message": item.message.replace("\x00", "\\x00"),
                "timestamp": item.timestamp,
            }
            for item in logs
        ],
    )
    if announce:
        await run_activity_announce(conn, "logs", (item.flow_run_id for item in logs))
    return len(logs)


async def logs_of_flow_run(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    after: int | None,
    min_level: int,
    limit: int,
) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    """
                    SELECT * FROM log
                    WHERE flow_run_id = :id AND level >= :min_level
                      AND (CAST(:after AS bigint) IS NULL OR id > :after)
                    ORDER BY id
                    LIMIT :limit
                    """
                ),
                {"id": run_id, "after": after, "min_level": min_level, "limit": limit},
            )
        ).mappings()
    )
