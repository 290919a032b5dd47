"""Inputs sent to flow runs: write one under its key, read one by key or those after the last one
seen. A pause's own inputs (its schema, its description, the resume's input) are written by the
server under the pause's keyset, replacing what an earlier attempt's pause of the same key left."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def run_input_create(
    conn: AsyncConnection, run_id: uuid.UUID, key: str, value: dict[str, Any], sender: str | None
) -> RowMapping | None:
    """The new input; None when the run already has one under `key`."""
    return (
        (
            await conn.execute(
                text(
                    "INSERT INTO flow_run_input (flow_run_id, key, value, sender) "
                    "VALUES (:run_id, :key, CAST(:value AS jsonb), :sender) "
                    "ON CONFLICT (flow_run_id, key) DO NOTHING RETURNING *"
                ),
                {"run_id": run_id, "key": key, "value": json.dumps(value), "sender": sender},
            )
        )
        .mappings()
        .first()
    )


async def run_input_list(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    key_prefix: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[RowMapping]:
    """The run's inputs in the order they came (created, id), after the input `after`."""
    rows = await conn.execute(
        text(
            """
            SELECT * FROM flow_run_input i
            WHERE i.flow_run_id = :run_id
              AND (CAST(:prefix AS text) IS NULL
                   OR left(i.key, length(CAST(:prefix AS text))) = :prefix)
              AND (CAST(:after AS uuid) IS NULL OR (i.created, i.id) > (
                  SELECT a.created, a.id FROM flow_run_input a
                  WHERE a.id = CAST(:after AS uuid) AND a.flow_run_id = :run_id))
            ORDER BY i.created, i.id
            LIMIT :limit
            """
        ),
        {"run_id": run_id, "prefix": key_prefix, "after": after, "limit": limit},
    )
    return list(rows.mappings())


async def run_input_put(
    conn: AsyncConnection, run_id: uuid.UUID, key: str, value: dict[str, Any]
) -> None:
    """Write the input `key` of the run, replacing the one it had."""
    await conn.execute(
        text(
            "INSERT INTO flow_run_input (flow_run_id, key, value) "
            "VALUES (:run_id, :key, CAST(:value AS jsonb)) "
            "ON CONFLICT (flow_run_id, key) DO UPDATE SET value = EXCLUDED.value, "
            "sender = NULL, created = now()"
        ),
        {"run_id": run_id, "key": key, "value": json.dumps(value)},
    )


async def run_input_get(conn: AsyncConnection, run_id: uuid.UUID, key: str) -> RowMapping | None:
    """The run's input `key`; None when it has none."""
    return (
        (
            await conn.execute(
                text("SELECT * FROM flow_run_input WHERE flow_run_id = :run_id AND key = :key"),
                {"run_id": run_id, "key": key},
            )
        )
        .mappings()
        .first()
    )
