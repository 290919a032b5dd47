"""Deployments: create-or-update by (flow, name), read by id or name, list, change, delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.deployments import DeploymentCreate
from headrace_service.errors import NotFoundError

DEPLOYMENT_SELECT = """
    SELECT d.*, d.max_retries AS retries, d.source ->> 'path' AS path, f.name AS flow_name,
           wp.name AS work_pool_name, wq.name AS work_queue_name, wq.priority AS queue_priority
    FROM deployment d
    JOIN flow f ON f.id = d.flow_id
    LEFT JOIN work_pool wp ON wp.id = d.work_pool_id
    LEFT JOIN work_queue wq ON wq.id = d.work_queue_id
"""


async def deployment_upsert(
    conn: AsyncConnection,
    body: DeploymentCreate,
    *,
    flow_id: uuid.UUID,
    work_pool_id: uuid.UUID,
    work_queue_id: uuid.UUID,
) -> uuid.UUID:
    """Insert the deployment, or update the one of the same flow and name (deploying twice)."""
    deployment_id: uuid.UUID = (
        await conn.execute(
            text(
                """
                INSERT INTO deployment (
                    flow_id, name, entrypoint, source, parameters, parameter_schema,
                    work_pool_id, work_queue_id, tags, description, version, paused,
                    concurrency_limit, concurrency_key, job_variables, max_retries,
                    retry_delay_seconds, catchup)
                VALUES (
                    :flow_id, :name, :entrypoint, CAST(:source AS jsonb),
                    CAST(:parameters AS jsonb), CAST(:parameter_schema AS jsonb),
                    :work_pool_id, :work_queue_id, :tags, :description, :version, :paused,
                    :concurrency_limit, :concurrency_key, CAST(:job_variables AS jsonb), :retries,
                    :retry_delay_seconds, :catchup)
                ON CONFLICT (flow_id, name) DO UPDATE SET
                    entrypoint = excluded.entrypoint, source = excluded.source,
                    parameters = excluded.parameters,
                    parameter_schema = excluded.parameter_schema,
                    work_pool_id = excluded.work_pool_id, work_queue_id = excluded.work_queue_id,
                    tags = excluded.tags, description = excluded.description,
                    version = excluded.version, paused = excluded.paused,
                    concurrency_limit = excluded.concurrency_limit,
                    concurrency_key = excluded.concurrency_key,
                    job_variables = excluded.job_variables, max_retries = excluded.max_retries,
                    retry_delay_seconds = excluded.retry_delay_seconds,
                    catchup = excluded.catchup, updated = now()
                RETURNING id
                """
            ),
            {
                "flow_id": flow_id,
                "name": body.name,
                "entrypoint": body.entrypoint,
                "source": json.dumps(
                    body.source.model_dump()
                    if body.source is not None
                    else {"kind": "folder", "path": body.path}
                ),
                "parameters": json.dumps(body.parameters),
                "parameter_schema": json.dumps(body.parameter_schema),
                "work_pool_id": work_pool_id,
                "work_queue_id": work_queue_id,
                "tags": body.tags,
                "description": body.description,
                "version": body.version,
                "paused": body.paused,
                "concurrency_limit": body.concurrency_limit,
                "concurrency_key": body.concurrency_key,
                "job_variables": json.dumps(body.job_variables),
                "retries": body.retries,
                "retry_delay_seconds": body.retry_delay_seconds,
                "catchup": body.catchup,
            },
        )
    ).scalar_one()
    return deployment_id


async def deployment_get(conn: AsyncConnection, deployment_id: uuid.UUID) -> RowMapping | None:
    return (
        (await conn.execute(text(DEPLOYMENT_SELECT + " WHERE d.id = :id"), {"id": deployment_id}))
        .mappings()
        .first()
    )


async def deployment_require(conn: AsyncConnection, deployment_id: uuid.UUID) -> RowMapping:
    """The deployment; a 404 otherwise."""
    row = await deployment_get(conn, deployment_id)
    if row is None:
        raise NotFoundError(f"deployment {deployment_id} not found")
    return row


async def deployment_get_by_name(
    conn: AsyncConnection, flow_name: str, name: str
) -> RowMapping | None:
    return (
        (
            await conn.execute(
                text(DEPLOYMENT_SELECT + " WHERE f.name = :flow AND d.name = :name"),
                {"flow": flow_name, "name": name},
            )
        )
        .mappings()
        .first()
    )


async def deployment_list(
    conn: AsyncConnection,
    *,
    flow_name: str | None,
    work_pool_name: str | None,
    limit: int,
    offset: int,
) -> list[RowMapping]:
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if flow_name is not None:
        where.append("f.name = :flow_name")
        params["flow_name"] = flow_name
    if work_pool_name is not None:
        where.append("wp.name = :work_pool_name")
        params["work_pool_name"] = work_pool_name
    sql = DEPLOYMENT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY f.name, d.name LIMIT :limit OFFSET :offset"
    return list((await conn.execute(text(sql), params)).mappings())


async def deployment_update(
    conn: AsyncConnection, deployment_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    """Apply the fields of a PATCH; JSON fields are sent as JSON."""
    columns = {
        "paused": ":paused",
        "concurrency_limit": ":concurrency_limit",
        "concurrency_key": ":concurrency_key",
        "description": ":description",
        "tags": ":tags",
        "parameters": "CAST(:parameters AS jsonb)",
    }
    values = {k: json.dumps(v) if k == "parameters" else v for k, v in changes.items()}
    sets = [f"{field} = {columns[field]}" for field in changes if field in columns]
    await conn.execute(
        text(f"UPDATE deployment SET {', '.join([*sets, 'updated = now()'])} WHERE id = :id"),
        {**values, "id": deployment_id},
    )


async def deployment_delete(conn: AsyncConnection, deployment_id: uuid.UUID) -> None:
    await conn.execute(text("DELETE FROM deployment WHERE id = :id"), {"id": deployment_id})


async def flow_run_id_by_idempotency_key(conn: AsyncConnection, key: str) -> uuid.UUID | None:
    run_id: uuid.UUID | None = (
        await conn.execute(
            text("SELECT id FROM flow_run WHERE idempotency_key = :key"), {"key": key}
        )
    ).scalar()
    return run_id
