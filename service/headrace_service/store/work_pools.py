"""Work pools, their queues and their workers: create, read, change, delete.

Reads carry what a person asks of a pool (workers online, runs waiting) so that `work-pool ls`
is one query. A worker is ONLINE while its last heartbeat is younger than a few intervals.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.work_pools import DEFAULT_QUEUE, WorkPoolCreate, WorkQueueCreate
from headrace_service.errors import ConflictError, NotFoundError

# Missed heartbeats before a worker counts as OFFLINE.
MISSED_HEARTBEATS_OFFLINE = 3

_ONLINE = """w.last_heartbeat >= now() - make_interval(
    secs => :missed * coalesce(w.heartbeat_interval_seconds, :heartbeat_seconds))"""

POOL_SELECT = f"""
    SELECT wp.*,
        (SELECT count(*) FROM worker w WHERE w.work_pool_id = wp.id AND {_ONLINE})
            AS workers_online,
        (SELECT count(*) FROM flow_run fr
         WHERE fr.work_pool_id = wp.id AND fr.state_type = 'SCHEDULED'
           AND fr.next_scheduled_start_time <= now()) AS runs_waiting
    FROM work_pool wp
"""

QUEUE_SELECT = """
    SELECT wq.*, wp.name AS work_pool_name,
        (SELECT count(*) FROM flow_run fr
         WHERE fr.work_pool_id = wq.work_pool_id AND fr.work_queue_id = wq.id
           AND fr.state_type = 'SCHEDULED' AND fr.next_scheduled_start_time <= now())
            AS runs_waiting
    FROM work_queue wq JOIN work_pool wp ON wp.id = wq.work_pool_id
"""

WORKER_SELECT = f"""
    SELECT w.id, w.name, w.work_pool_id, wp.name AS work_pool_name, w.last_heartbeat,
           w.heartbeat_interval_seconds, w.pool_type, w.job_variables_schema, w.created,
           CASE WHEN {_ONLINE} THEN 'ONLINE' ELSE 'OFFLINE' END AS status
    FROM worker w JOIN work_pool wp ON wp.id = w.work_pool_id
"""


def _liveness(heartbeat_seconds: float) -> dict[str, Any]:
    return {"missed": MISSED_HEARTBEATS_OFFLINE, "heartbeat_seconds": heartbeat_seconds}


async def work_pool_get(
    conn: AsyncConnection, name: str, *, heartbeat_seconds: float
) -> RowMapping | None:
    return (
        (
            await conn.execute(
                text(POOL_SELECT + " WHERE wp.name = :name"),
                {"name": name, **_liveness(heartbeat_seconds)},
            )
        )
        .mappings()
        .first()
    )


async def work_pool_require(
    conn: AsyncConnection, name: str, *, heartbeat_seconds: float
) -> RowMapping:
    """The pool called `name`; a 404 that says how to create it otherwise."""
    row = await work_pool_get(conn, name, heartbeat_seconds=heartbeat_seconds)
    if row is None:
        raise NotFoundError(
            f"work pool {name!r} not found; create it with `headrace work-pool create {name}`"
        )
    return row


async def work_pool_id_require(conn: AsyncConnection, name: str) -> uuid.UUID:
    """The id of the pool called `name` (a 404 otherwise), without the counts `work_pool_get`
    adds: every heartbeat does this, on the small lease pool."""
    pool_id = (
        await conn.execute(text("SELECT id FROM work_pool WHERE name = :name"), {"name": name})
    ).scalar_one_or_none()
    if pool_id is None:
        raise NotFoundError(
            f"work pool {name!r} not found; create it with `headrace work-pool create {name}`"
        )
    result: uuid.UUID = pool_id
    return result


async def work_pool_list(conn: AsyncConnection, *, heartbeat_seconds: float) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(POOL_SELECT + " ORDER BY wp.name"), _liveness(heartbeat_seconds)
            )
        ).mappings()
    )


async def work_pool_create(
    conn: AsyncConnection, body: WorkPoolCreate, *, overwrite: bool
) -> uuid.UUID:
    """Insert the pool and its default queue; `overwrite` replaces an existing pool's fields."""
    values = body.model_dump()
    pool_id = (
        await conn.execute(
            text(
                """
                INSERT INTO work_pool (name, type, description, concurrency_limit, paused)
                VALUES (:name, :type, :description, :concurrency_limit, :paused)
                ON CONFLICT (name) DO NOTHING
                RETURNING id
                """
            ),
            values,
        )
    ).scalar()
    if pool_id is None:
        if not overwrite:
            raise ConflictError(
                f"work pool {body.name!r} already exists; use --overwrite to replace its settings"
            )
        pool_id = (
            await conn.execute(
                text(
                    """
                    UPDATE work_pool SET type = :type, description = :description,
                        concurrency_limit = :concurrency_limit, paused = :paused, updated = now()
                    WHERE name = :name
                    RETURNING id
                    """
                ),
                values,
            )
        ).scalar_one()
    await conn.execute(
        text(
            "INSERT INTO work_queue (work_pool_id, name) VALUES (:pool_id, :name) "
            "ON CONFLICT (work_pool_id, name) DO NOTHING"
        ),
        {"pool_id": pool_id, "name": DEFAULT_QUEUE},
    )
    result: uuid.UUID = pool_id
    return result


async def work_pool_update(conn: AsyncConnection, name: str, changes: dict[str, Any]) -> bool:
    """Apply the fields given (a PATCH); False when no such pool."""
    allowed = {"description", "concurrency_limit", "paused"}
    sets = [f"{field} = :{field}" for field in changes if field in allowed]
    sql = f"UPDATE work_pool SET {', '.join([*sets, 'updated = now()'])} WHERE name = :name"
    result = await conn.execute(text(sql + " RETURNING id"), {**changes, "name": name})
    return result.first() is not None


async def work_pool_delete(conn: AsyncConnection, pool_id: uuid.UUID) -> None:
    await conn.execute(text("DELETE FROM work_pool WHERE id = :id"), {"id": pool_id})


async def work_queue_get(conn: AsyncConnection, pool_id: uuid.UUID, name: str) -> RowMapping | None:
    return (
        (
            await conn.execute(
                text(QUEUE_SELECT + " WHERE wq.work_pool_id = :pool_id AND wq.name = :name"),
                {"pool_id": pool_id, "name": name},
            )
        )
        .mappings()
        .first()
    )


async def work_queue_require(
    conn: AsyncConnection, pool_id: uuid.UUID, pool_name: str, name: str
) -> RowMapping:
    row = await work_queue_get(conn, pool_id, name)
    if row is None:
        raise NotFoundError(
            f"work queue {name!r} not found in pool {pool_name!r}; create it with "
            f"`headrace work-queue create {name} --pool {pool_name}`"
        )
    return row


async def work_queue_list(conn: AsyncConnection, pool_id: uuid.UUID) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    QUEUE_SELECT + " WHERE wq.work_pool_id = :pool_id ORDER BY wq.priority, wq.name"
                ),
                {"pool_id": pool_id},
            )
        ).mappings()
    )


async def work_queue_create(
    conn: AsyncConnection, pool_id: uuid.UUID, pool_name: str, body: WorkQueueCreate
) -> None:
    row = (
        await conn.execute(
            text(
                """
                INSERT INTO work_queue (work_pool_id, name, description, priority,
                                        concurrency_limit, paused)
                VALUES (:pool_id, :name, :description, :priority, :concurrency_limit, :paused)
                ON CONFLICT (work_pool_id, name) DO NOTHING
                RETURNING id
                """
            ),
            {"pool_id": pool_id, **body.model_dump()},
        )
    ).first()
    if row is None:
        raise ConflictError(f"work queue {body.name!r} already exists in pool {pool_name!r}")


async def work_queue_update(
    conn: AsyncConnection, queue_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    allowed = {"description", "concurrency_limit", "paused", "priority"}
    sets = [f"{field} = :{field}" for field in changes if field in allowed]
    if sets:
        await conn.execute(
            text(f"UPDATE work_queue SET {', '.join(sets)} WHERE id = :id"),
            {**changes, "id": queue_id},
        )


async def worker_list(
    conn: AsyncConnection, pool_id: uuid.UUID, *, heartbeat_seconds: float
) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(WORKER_SELECT + " WHERE w.work_pool_id = :pool_id ORDER BY w.name"),
                {"pool_id": pool_id, **_liveness(heartbeat_seconds)},
            )
        ).mappings()
    )


async def worker_get(
    conn: AsyncConnection, worker_id: uuid.UUID, *, heartbeat_seconds: float
) -> RowMapping | None:
    return (
        (
            await conn.execute(
                text(WORKER_SELECT + " WHERE w.id = :id"),
                {"id": worker_id, **_liveness(heartbeat_seconds)},
            )
        )
        .mappings()
        .first()
    )


async def work_pool_worker_check(
    conn: AsyncConnection, pool_name: str, worker_id: uuid.UUID
) -> tuple[uuid.UUID, bool]:
    """(pool id, whether a concurrency limit is set in it), checking that the worker belongs to
    the pool: one cheap query, since every claim does this."""
    row = (
        await conn.execute(
            text(
                """
                SELECT wp.id, w.id AS worker_id,
                    wp.concurrency_limit IS NOT NULL
                    OR EXISTS (SELECT 1 FROM work_queue q
                               WHERE q.work_pool_id = wp.id AND q.concurrency_limit IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM deployment d
                               WHERE d.work_pool_id = wp.id AND d.concurrency_limit IS NOT NULL)
                        AS limited
                FROM work_pool wp
                LEFT JOIN worker w ON w.work_pool_id = wp.id AND w.id = :worker_id
                WHERE wp.name = :name
                """
            ),
            {"name": pool_name, "worker_id": worker_id},
        )
    ).first()
    if row is None:
        raise NotFoundError(
            f"work pool {pool_name!r} not found; create it with "
            f"`headrace work-pool create {pool_name}`"
        )
    if row[1] is None:
        raise NotFoundError(
            f"worker {worker_id} is not registered in work pool {pool_name!r}; "
            "send a heartbeat first"
        )
    return row[0], bool(row[2])
