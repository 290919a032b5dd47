"""Reading flow runs: one run with its history, listings with filters, children of a run."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.store.driver_reads import fetch_one

# A run with the names a person reads, not just ids.
RUN_SELECT = """
    SELECT fr.*, f.name AS flow_name, d.name AS deployment_name,
           wp.name AS work_pool_name, wq.name AS work_queue_name,
           -- Read models mask the parameters this schema marks secret (SecretStr).
           d.parameter_schema
    FROM flow_run fr
    JOIN flow f ON f.id = fr.flow_id
    LEFT JOIN deployment d ON d.id = fr.deployment_id
    LEFT JOIN work_pool wp ON wp.id = fr.work_pool_id
    LEFT JOIN work_queue wq ON wq.id = fr.work_queue_id
"""


async def flow_run_get(conn: AsyncConnection, run_id: uuid.UUID) -> RowMapping | None:
    return (
        (await conn.execute(text(RUN_SELECT + " WHERE fr.id = :id"), {"id": run_id}))
        .mappings()
        .first()
    )


# The run and its history in one statement: one snapshot, on a connection without a transaction.
_RUN_WITH_STATES = RUN_SELECT.replace(
    "SELECT fr.*,",
    """SELECT fr.*,
           (SELECT coalesce(json_agg(s ORDER BY s.timestamp, s.id), '[]'::json)
            FROM flow_run_state s WHERE s.flow_run_id = fr.id) AS states,""",
    1,
)


async def flow_run_get_with_states(
    conn: AsyncConnection, run_id: uuid.UUID
) -> dict[str, Any] | None:
    """The run (as `flow_run_get`) with `states`, its state history oldest first, as dicts."""
    return await fetch_one(conn, _RUN_WITH_STATES + " WHERE fr.id = %(id)s", {"id": run_id})


async def flow_run_states(conn: AsyncConnection, run_id: uuid.UUID) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text("SELECT * FROM flow_run_state WHERE flow_run_id = :id ORDER BY timestamp, id"),
                {"id": run_id},
            )
        ).mappings()
    )


async def flow_run_list(
    conn: AsyncConnection,
    *,
    flow_name: str | None = None,
    state_types: list[str] | None = None,
    deployment_id: uuid.UUID | None = None,
    work_pool_name: str | None = None,
    tag: str | None = None,
    parent_flow_run_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[RowMapping]:
    """Newest first; every filter is optional and uses an index named for it."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if flow_name is not None:
        where.append("f.name = :flow_name")
        params["flow_name"] = flow_name
    if state_types:
        where.append("fr.state_type = ANY(CAST(:state_types AS state_type[]))")
        params["state_types"] = state_types
    if deployment_id is not None:
        where.append("fr.deployment_id = :deployment_id")
        params["deployment_id"] = deployment_id
    if work_pool_name is not None:
        where.append("wp.name = :work_pool_name")
        params["work_pool_name"] = work_pool_name
    if tag is not None:
        where.append("fr.tags @> ARRAY[CAST(:tag AS text)]")
        params["tag"] = tag
    if parent_flow_run_id is not None:
        where.append(
            "fr.parent_task_run_id IN (SELECT id FROM task_run WHERE flow_run_id = :parent)"
        )
        params["parent"] = parent_flow_run_id
    sql = RUN_SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY fr.created DESC, fr.id DESC LIMIT :limit OFFSET :offset"
    return list((await conn.execute(text(sql), params)).mappings())


async def flow_run_parameters_set(
    conn: AsyncConnection, run_id: uuid.UUID, parameters: dict[str, Any]
) -> None:
    """Replace a run's parameters (variables filled in at claim time; not a state change)."""
    await conn.execute(
        text("UPDATE flow_run SET parameters = CAST(:parameters AS jsonb) WHERE id = :id"),
        {"id": run_id, "parameters": json.dumps(parameters)},
    )


async def flow_run_rename(conn: AsyncConnection, run_id: uuid.UUID, name: str) -> bool:
    """Give a run a new name (not a state change); False when there is no such run."""
    result = await conn.execute(
        text("UPDATE flow_run SET name = :name WHERE id = :id"), {"id": run_id, "name": name}
    )
    return bool(result.rowcount)
