"""A run's own state: creating a run and moving it from state to state, with history and
NOTIFY. Every other queue statement that writes a state row goes through the helpers here."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import TERMINAL_TYPES, StateType
from headrace_service.errors import NotFoundError
from headrace_service.transitions import Decision, decide

# Channel every state change is announced on (payload: run id, state type, pool id); the
# dashboard's SSE and the wait endpoint listen to it, and waiting claims are woken by it.
FLOW_RUN_CHANNEL = "headrace_flow_run"


@dataclass(frozen=True)
class StateChange:
    decision: Decision
    run: RowMapping
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
    schedule_id: uuid.UUID | None = None,
    auto_scheduled: bool = False,
    now: datetime | None = None,
) -> RowMapping | None:
    """Insert a run and its first state; None if `idempotency_key` already names a run."""
    running = state_type is StateType.RUNNING
    row = (
        (
            await conn.execute(
                text(
                    """
                INSERT INTO flow_run (
                    name, flow_id, deployment_id, work_pool_id, work_queue_id, schedule_id,
                    parameters, tags, state_type, state_name, state_message, state_timestamp,
                    run_count, max_retries, retry_delay_seconds, priority,
                    expected_start_time, next_scheduled_start_time, start_time,
                    parent_task_run_id, idempotency_key, auto_scheduled, created, updated)
                VALUES (
                    :name, :flow_id, :deployment_id, :work_pool_id, :work_queue_id, :schedule_id,
                    CAST(:parameters AS jsonb), :tags, CAST(:state_type AS state_type),
                    :state_name, :state_message,
                    coalesce(:now, now()), :run_count, :max_retries, :retry_delay_seconds,
                    :priority, coalesce(:scheduled_time, :now, now()),
                    CASE WHEN :scheduled THEN coalesce(:scheduled_time, :now, now()) END,
                    CASE WHEN :running THEN coalesce(:now, now()) END,
                    :parent_task_run_id, :idempotency_key, :auto_scheduled,
                    coalesce(:now, now()), coalesce(:now, now()))
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING *
                """
                ),
                {
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
                    "scheduled": state_type is StateType.SCHEDULED,
                    "parent_task_run_id": parent_task_run_id,
                    "idempotency_key": idempotency_key,
                    "auto_scheduled": auto_scheduled,
                    "now": now,
                },
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    await _state_insert(conn, row["id"], state_type, state_name, state_message, None, now)
    await _announce(conn, row)
    return row


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
    """Move a run to a new state if the transition rules allow it; lock, decide, write."""
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
        last = await _state_latest(conn, run_id)
        return StateChange(decision, current, last)
    scheduled_time = (data or {}).get("scheduled_time")
    run = (
        (
            await conn.execute(
                text(
                    """
                UPDATE flow_run SET
                    state_type = CAST(:state_type AS state_type),
                    state_name = :state_name,
                    state_message = :message,
                    state_timestamp = coalesce(:now, now()),
                    run_count = run_count + CASE
                        WHEN :running AND state_type <> 'RUNNING'
                             AND state_type <> 'PAUSED' THEN 1 ELSE 0 END,
                    start_time = CASE WHEN :running
                        THEN coalesce(start_time, :now, now()) ELSE start_time END,
                    end_time = CASE WHEN :terminal THEN coalesce(:now, now()) END,
                    next_scheduled_start_time = CASE WHEN :scheduled
                        THEN coalesce(CAST(:scheduled_time AS timestamptz), :now, now()) END,
                    -- A finished run holds no worker and no lease; a run sent back to
                    -- SCHEDULED is free for any worker. Only an in-process flow retry (the
                    -- holder itself proposing AwaitingRetry) keeps the lease, and the claim
                    -- skips runs that still have a worker; a holder giving a run back (a
                    -- stopping worker) frees it.
                    worker_id = CASE WHEN :terminal OR (:scheduled AND NOT :holder_retries)
                        THEN NULL ELSE worker_id END,
                    lease_expires_at = CASE
                        WHEN :terminal OR (:scheduled AND NOT :holder_retries) THEN NULL
                        WHEN worker_id IS NOT NULL
                        THEN coalesce(:now, now()) + make_interval(secs => :lease_seconds)
                        ELSE lease_expires_at END,
                    updated = coalesce(:now, now())
                WHERE id = :id
                RETURNING *
                """
                ),
                {
                    "id": run_id,
                    "state_type": state_type.value,
                    "state_name": state_name,
                    "message": message,
                    "holder_retries": requester is not None
                    and requester == current["worker_id"]
                    and state_name == "AwaitingRetry",
                    "terminal": state_type in TERMINAL_TYPES,
                    "running": state_type is StateType.RUNNING,
                    "scheduled": state_type is StateType.SCHEDULED,
                    "scheduled_time": scheduled_time,
                    "lease_seconds": lease_seconds,
                    "now": now,
                },
            )
        )
        .mappings()
        .one()
    )
    reporter = (
        current["worker_id"]
        if requester is not None and requester == current["worker_id"]
        else None
    )
    state = await _state_insert(
        conn, run_id, state_type, state_name, message, data, now, reported_by_worker_id=reporter
    )
    await _announce(conn, run)
    return StateChange(decision, run, state)


async def _state_insert(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    state_type: StateType,
    name: str,
    message: str | None,
    data: dict[str, Any] | None,
    now: datetime | None,
    *,
    reported_by_worker_id: uuid.UUID | None = None,
) -> RowMapping:
    return (
        (
            await conn.execute(
                text(
                    """
                INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp, data,
                                            reported_by_worker_id)
                VALUES (:run_id, CAST(:type AS state_type), :name, :message, coalesce(:now, now()),
                        CAST(:data AS jsonb), :reporter)
                RETURNING *
                """
                ),
                {
                    "reporter": reported_by_worker_id,
                    "run_id": run_id,
                    "type": state_type.value,
                    "name": name,
                    "message": message,
                    "data": json.dumps(data) if data is not None else None,
                    "now": now,
                },
            )
        )
        .mappings()
        .one()
    )


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


async def _announce(conn: AsyncConnection, run: RowMapping) -> None:
    """NOTIFY (delivered at commit): only ids travel, so the payload stays tiny."""
    payload = json.dumps(
        {
            "id": str(run["id"]),
            "state_type": run["state_type"],
            "work_pool_id": str(run["work_pool_id"]) if run["work_pool_id"] else None,
        }
    )
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": FLOW_RUN_CHANNEL, "payload": payload},
    )
