"""Inputs sent to flow runs: write one under its key, read those after the last one seen."""

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
