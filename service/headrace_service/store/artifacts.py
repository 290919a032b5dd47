"""Artifacts: one row per artifact; a keyed artifact's history is its rows under the key."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.artifacts import ArtifactCreate, ArtifactQuery

_COLUMNS = "id, key, type, description, data, flow_run_id, task_run_id, created, updated"


async def artifact_create(conn: AsyncConnection, body: ArtifactCreate) -> RowMapping | None:
    """Insert the artifact; None when it names a flow run that does not exist."""
    rows = await conn.execute(
        text(
            f"""
            INSERT INTO artifact (key, type, description, data, flow_run_id, task_run_id)
            SELECT :key, :type, :description, CAST(:data AS jsonb), :flow_run_id, :task_run_id
            WHERE CAST(:flow_run_id AS uuid) IS NULL
                OR EXISTS (SELECT 1 FROM flow_run WHERE id = :flow_run_id)
            RETURNING {_COLUMNS}
            """
        ),
        {
            "key": body.key,
            "type": body.type,
            "description": body.description,
            "data": json.dumps(body.data),
            "flow_run_id": body.flow_run_id,
            "task_run_id": body.task_run_id,
        },
    )
    return rows.mappings().first()


async def artifact_get(conn: AsyncConnection, artifact_id: uuid.UUID) -> RowMapping | None:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM artifact WHERE id = :id"), {"id": artifact_id}
    )
    return rows.mappings().first()


async def artifact_latest(conn: AsyncConnection, key: str) -> RowMapping | None:
    """The newest artifact under `key`."""
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM artifact WHERE key = :key "
            "ORDER BY created DESC, id DESC LIMIT 1"
        ),
        {"key": key},
    )
    return rows.mappings().first()


async def artifact_update(
    conn: AsyncConnection, artifact_id: uuid.UUID, data: Any, description: str | None
) -> RowMapping | None:
    """New data (and description, when given) for an artifact."""
    rows = await conn.execute(
        text(
            f"""
            UPDATE artifact SET data = CAST(:data AS jsonb),
                description = coalesce(:description, description), updated = now()
            WHERE id = :id RETURNING {_COLUMNS}
            """
        ),
        {"id": artifact_id, "data": json.dumps(data), "description": description},
    )
    return rows.mappings().first()


async def artifact_list(conn: AsyncConnection, query: ArtifactQuery) -> list[RowMapping]:
    """Newest first, filtered; with `latest`, only the newest artifact of each key."""
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
    for column in ("key", "flow_run_id", "task_run_id", "type"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    condition = " AND ".join(where)
    if query.latest:
        sql = f"""
            SELECT * FROM (
                SELECT DISTINCT ON (key) {_COLUMNS} FROM artifact
                WHERE key IS NOT NULL AND {condition} ORDER BY key, created DESC, id DESC
            ) latest ORDER BY created DESC, id DESC LIMIT :limit OFFSET :offset
        """
    else:
        sql = f"""
            SELECT {_COLUMNS} FROM artifact WHERE {condition}
            ORDER BY created DESC, id DESC LIMIT :limit OFFSET :offset
        """
    rows = await conn.execute(text(sql), params)
    return list(rows.mappings())


async def artifact_delete(conn: AsyncConnection, artifact_id: uuid.UUID) -> bool:
    deleted = await conn.execute(text("DELETE FROM artifact WHERE id = :id"), {"id": artifact_id})
    return bool(deleted.rowcount)


async def artifact_delete_key(conn: AsyncConnection, key: str) -> int:
    """Delete a key's whole history."""
    deleted = await conn.execute(text("DELETE FROM artifact WHERE key = :key"), {"key": key})
    return int(deleted.rowcount)


async def artifact_count_of_flow_run(conn: AsyncConnection, flow_run_id: uuid.UUID) -> int:
    rows = await conn.execute(
        text("SELECT count(*) FROM artifact WHERE flow_run_id = :id"), {"id": flow_run_id}
    )
    return int(rows.scalar_one())
