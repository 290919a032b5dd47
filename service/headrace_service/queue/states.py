"""A run's own state: creating a run and moving it from state to state. Like every statement
of this package that changes a state, each ends in the shared tail (state_tail.py) that writes
the history row, the outbox row and the NOTIFY."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace_service.errors import NotFoundError
from headrace_service.queue.state_columns import NOW, new_run_columns, state_set
from headrace_service.queue.state_tail import changes_from, state_tail
from headrace_service.transitions import Decision, decide

_NEW_RUN = new_run_columns(
    "CAST(:state_type AS state_type)", "coalesce(:scheduled_time, :now, now())"
)

_CREATE = f"""
WITH inserted AS (
    INSERT INTO flow_run (
        name, flow_id, deployment_id, work_pool_id, work_queue_id, schedule_id,
        parameters, tags, state_type, state_name, state_message, state_timestamp,
        run_count, max_retries, retry_delay_seconds, priority,
        expected_start_time, {", ".join(_NEW_RUN)}, start_time,
        parent_task_run_id, idempotency_key, concurrency_key, auto_scheduled, created, updated)
    VALUES (
        :name, :flow_id, :deployment_id, :work_pool_id, :work_queue_id, :schedule_id,
        CAST(:parameters AS jsonb), :tags, CAST(:state_type AS state_type),
        :state_name, :state_message,
        {NOW}, :run_count, :max_retries, :retry_delay_seconds,
        :priority, coalesce(:scheduled_time, :now, now()),
        {", ".join(_NEW_RUN.values())},
        CASE WHEN :running THEN {NOW} END,
        :parent_task_run_id, :idempotency_key, :concurrency_key, :auto_scheduled, {NOW}, {NOW})
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
), state_changes AS ({
    changes_from("inserted", old_type="CAST(NULL AS state_type)", old_name="CAST(NULL AS text)")
})
{state_tail()}
SELECT * FROM inserted
"""

# Only an in-process flow retry (the holder itself proposing AwaitingRetry) keeps the run and
# its lease, and the claim skips runs that still have a worker; a holder giving a run back (a
# stopping worker) frees it. A run still held gets its lease renewed.
_SET_STATE_COLUMNS = state_set(
    "CAST(:state_type AS state_type)",
    ":state_name",
    ":message",
    next_start="coalesce(CAST(:scheduled_time AS timestamptz), :now, now())",
    keeps_holder=":holder_retries",
    lease=f"CASE WHEN worker_id IS NOT NULL THEN {NOW} + make_interval(secs => :lease_seconds) "
    "ELSE lease_expires_at END",
)

# The row is locked (SELECT ... FOR UPDATE) and the transition decided before this runs; the
# state it leaves comes in as :old_type and :old_name.
_SET_STATE = f"""
WITH updated AS (
    UPDATE flow_run SET
        {_SET_STATE_COLUMNS},
        run_count = run_count + CASE
            WHEN :running AND state_type <> 'RUNNING' AND state_type <> 'PAUSED' THEN 1 ELSE 0 END,
        start_time = CASE WHEN :running THEN coalesce(start_time, {NOW}) ELSE start_time END
    WHERE id = :id
    RETURNING *, CAST(:old_type AS state_type) AS old_type, CAST(:old_name AS text) AS old_name
), state_changes AS ({changes_from("updated")})
{state_tail(data="CAST(:data AS jsonb)", reported_by="CAST(:reporter AS uuid)")}
SELECT * FROM state_history
"""


@dataclass(frozen=True)
class StateChange:
    decision: Decision
    # The run's newest state row: the one written, or (refused, unchanged) the current one.
    state: RowMapping


async def flow_run_create(
    conn: AsyncConnection,
    *,
    flow_id: uuid.UUID,
    name: str,
    state_type: StateType,
    state_name: str,
    state_message: str | None,
    parameters: dict[str, Any],
    tags: list[str],
    parent_task_run_id: uuid.UUID | None = None,
    max_retries: int = 0,
    retry_delay_seconds: float = 0.0,
    deployment_id: uuid.UUID | None = None,
    work_pool_id: uuid.UUID | None = None,
    work_queue_id: uuid.UUID | None = None,
    priority: int = 1,
    scheduled_time: datetime | None = None,
    idempotency_key: str | None = None,
    concurrency_key: str | None = None,
    schedule_id: uuid.UUID | None = None,
    auto_scheduled: bool = False,
    now: datetime | None = None,
) -> RowMapping | None:
    """Insert a run in its first state; None if `idempotency_key` already names a run."""
    running = state_type is StateType.RUNNING
    params = {
        "name": name,
        "flow_id": flow_id,
        "deployment_id": deployment_id,
        "work_pool_id": work_pool_id,
        "work_queue_id": work_queue_id,
        "schedule_id": schedule_id,
        "parameters": json.dumps(parameters),
        "tags": tags,
        "state_type": state_type.value,
        "state_name": state_name,
        "state_message": state_message,
        "run_count": 1 if running else 0,
        "max_retries": max_retries,
        "retry_delay_seconds": retry_delay_seconds,
        "priority": priority,
        "scheduled_time": scheduled_time,
        "running": running,
        "parent_task_run_id": parent_task_run_id,
        "idempotency_key": idempotency_key,
        "concurrency_key": concurrency_key,
        "auto_scheduled": auto_scheduled,
        "now": now,
    }
    return (await conn.execute(text(_CREATE), params)).mappings().first()


async def flow_run_set_state(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    state_type: StateType,
    state_name: str,
    message: str | None,
    data: dict[str, Any] | None = None,
    requester: uuid.UUID | None = None,
    force: bool = False,
    lease_seconds: float = 30.0,
    now: datetime | None = None,
) -> StateChange:
    """Move a run to a new state if the transition rules allow it: lock the row, decide, write
    (one statement: the run, its history row, its outbox row, its NOTIFY)."""
    current = (
        (
            await conn.execute(
                text("SELECT * FROM flow_run WHERE id = :id FOR UPDATE"), {"id": run_id}
            )
        )
        .mappings()
        .first()
    )
    if current is None:
        raise NotFoundError(f"flow run {run_id} not found")
    decision = decide(
        StateType(current["state_type"]),
        current["state_name"],
        state_type,
        state_name,
        holder=current["worker_id"],
        requester=requester,
        force=force,
    )
    if not decision.accept or decision.unchanged:
        return StateChange(decision, await _state_latest(conn, run_id))
    holds = requester is not None and requester == current["worker_id"]
    params = {
        "id": run_id,
        "old_type": current["state_type"],
        "old_name": current["state_name"],
        "state_type": state_type.value,
        "state_name": state_name,
        "message": message,
        "data": json.dumps(data) if data is not None else None,
        "reporter": current["worker_id"] if holds else None,
        "holder_retries": holds and state_name == "AwaitingRetry",
        "running": state_type is StateType.RUNNING,
        "scheduled_time": (data or {}).get("scheduled_time"),
        "lease_seconds": lease_seconds,
        "now": now,
    }
    state = (await conn.execute(text(_SET_STATE), params)).mappings().one()
    return StateChange(decision, state)


async def _state_latest(conn: AsyncConnection, run_id: uuid.UUID) -> RowMapping:
    return (
        (
            await conn.execute(
                text(
                    "SELECT * FROM flow_run_state WHERE flow_run_id = :id "
                    "ORDER BY timestamp DESC, id LIMIT 1"
                ),
                {"id": run_id},
            )
        )
        .mappings()
        .one()
    )
