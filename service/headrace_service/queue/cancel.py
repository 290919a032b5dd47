"""Cancelling runs one by one or a pool's or deployment's waiting runs; queue priorities."""

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace_service.errors import NotFoundError
from headrace_service.queue.state_columns import state_set
from headrace_service.queue.state_tail import changes_from, state_tail
from headrace_service.queue.states import StateChange, flow_run_set_state


async def flow_run_cancel(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    message: str | None = None,
    lease_seconds: float = 30.0,
    now: datetime | None = None,
) -> StateChange:
    """Cancel a run: at once when no process runs it yet, else ask its worker (CANCELLING)."""
    current = (
        (
            await conn.execute(
                text("SELECT state_type, worker_id FROM flow_run WHERE id = :id FOR UPDATE"),
                {"id": run_id},
            )
        )
        .mappings()
        .first()
    )
    if current is None:
        raise NotFoundError(f"flow run {run_id} not found")
    state_type = StateType(current["state_type"])
    # A process may be executing the run: its worker must stop it and report Cancelled. A run
    # only claimed (PENDING) is cancelled at once; its worker learns it was fenced off. So is a
    # PAUSED run no worker holds: Suspended (no process), or a script's (its wait sees it).
    in_process = state_type is StateType.RUNNING or (
        state_type in (StateType.SCHEDULED, StateType.PAUSED) and current["worker_id"] is not None
    )
    target = StateType.CANCELLING if in_process else StateType.CANCELLED
    return await flow_run_set_state(
        conn,
        run_id,
        state_type=target,
        state_name="Cancelling" if in_process else "Cancelled",
        message=message or "cancelled on request",
        lease_seconds=lease_seconds,
        now=now,
    )


async def flow_run_reprioritise(conn: AsyncConnection, queue_id: uuid.UUID, priority: int) -> None:
    """Give the waiting runs of a queue its new priority (copied so that claims need no join)."""
    await conn.execute(
        text(
            "UPDATE flow_run SET priority = :priority "
            "WHERE work_queue_id = :queue_id AND state_type = 'SCHEDULED'"
        ),
        {"queue_id": queue_id, "priority": priority},
    )


_CANCEL_WAITING = f"""
WITH waiting AS (
    SELECT id, state_type AS old_type, state_name AS old_name FROM flow_run
    WHERE state_type = 'SCHEDULED'
      AND (work_pool_id = :pool_id OR deployment_id = :deployment_id)
    ORDER BY id
    FOR UPDATE
), cancelled AS (
    UPDATE flow_run fr SET {state_set("CAST('CANCELLED' AS state_type)", "'Cancelled'", ":message")}
    FROM waiting WHERE fr.id = waiting.id
    RETURNING fr.*, waiting.old_type, waiting.old_name
), state_changes AS ({changes_from("cancelled")})
{state_tail()}
SELECT count(*) FROM cancelled
"""


async def flow_run_cancel_waiting(
    conn: AsyncConnection,
    *,
    message: str,
    pool_id: uuid.UUID | None = None,
    deployment_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> int:
    """Cancel the SCHEDULED runs of a pool or deployment about to be deleted; how many."""
    rows = (
        await conn.execute(
            text(_CANCEL_WAITING),
            {"pool_id": pool_id, "deployment_id": deployment_id, "message": message, "now": now},
        )
    ).scalar_one()
    count: int = rows
    return count
