"""Reading what a run's pauses recorded in its state history: a Paused state's details (its
pause key, timeout and RunInput schema) and the input its resume carried. The states
themselves are written by the queue's one state-change path; this only reads them."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def pause_latest(conn: AsyncConnection, run_id: uuid.UUID) -> RowMapping | None:
    """The run's newest PAUSED state row (its `data` holds the pause's details)."""
    return (
        (
            await conn.execute(
                text(
                    "SELECT * FROM flow_run_state WHERE flow_run_id = :id AND type = 'PAUSED' "
                    "ORDER BY timestamp DESC, id DESC LIMIT 1"
                ),
                {"id": run_id},
            )
        )
        .mappings()
        .first()
    )


async def pause_resumed(conn: AsyncConnection, run_id: uuid.UUID, key: str) -> RowMapping | None:
    """The state that resumed the pause `key` of the run (its `data` holds `run_input`), None
    while that pause was never resumed."""
    return (
        (
            await conn.execute(
                text(
                    "SELECT * FROM flow_run_state WHERE flow_run_id = :id "
                    "AND type IN ('RUNNING', 'SCHEDULED') AND data ->> 'resumed_pause_key' = :key "
                    "ORDER BY timestamp DESC, id DESC LIMIT 1"
                ),
                {"id": run_id, "key": key},
            )
        )
        .mappings()
        .first()
    )
