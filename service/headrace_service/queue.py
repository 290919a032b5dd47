"""Every SQL statement that writes a flow run's state: the queue lives in the flow_run table.

Names are noun + verb (`flow_run_create`, `flow_run_set_state`) so related statements sort
together. Each takes `now` as a parameter so tests can pin the clock. Callers own the
transaction; every statement here is short and never waits on anything but row locks.
"""

from __future__ import annotations

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
                    -- A run that is waiting again or finished holds no worker and no lease.
                    -- A finished run holds no worker and no lease; a run sent back to
                    -- SCHEDULED by someone else is free for any worker. When the holder
                    -- itself schedules it (an in-process flow retry) it keeps the lease, and
                    -- the claim skips runs that still have a worker.
                    worker_id = CASE WHEN :terminal OR (:scheduled AND NOT :by_holder)
                        THEN NULL ELSE worker_id END,
                    lease_expires_at = CASE
                        WHEN :terminal OR (:scheduled AND NOT :by_holder) THEN NULL
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
                    "by_holder": requester is not None and requester == current["worker_id"],
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
    state = await _state_insert(conn, run_id, state_type, state_name, message, data, now)
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
) -> RowMapping:
    return (
        (
            await conn.execute(
                text(
                    """
                INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp, data)
                VALUES (:run_id, CAST(:type AS state_type), :name, :message, coalesce(:now, now()),
                        CAST(:data AS jsonb))
                RETURNING *
                """
                ),
                {
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


# --- The pull queue: claims, leases, heartbeats, rescue, cancellation --------------------------

ACTIVE_SQL = "('PENDING', 'RUNNING', 'CANCELLING')"

# What the claim filters on: exactly the partial index ix_flow_run_claim (pool equality, then
# the ORDER BY). Runs still held by a worker (an in-process retry waiting) and runs of a paused
# queue are skipped row by row; they are few.
_CLAIM_DUE = """
    fr.work_pool_id = :pool_id
    AND fr.state_type = 'SCHEDULED'
    AND fr.next_scheduled_start_time <= coalesce(:now, now())
    AND fr.worker_id IS NULL
    AND fr.deployment_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM work_queue q WHERE q.id = fr.work_queue_id AND q.paused)
"""
_CLAIM_ORDER = "fr.priority, fr.next_scheduled_start_time, fr.id"

# Shared tail of both claim statements: take the `chosen` rows to PENDING for the worker with a
# lease, write their history rows, and return them with what the worker needs to run them.
_CLAIM_TAIL = """
, claimed AS (
    UPDATE flow_run fr SET
        state_type = 'PENDING', state_name = 'Pending', state_message = NULL,
        state_timestamp = coalesce(:now, now()),
        next_scheduled_start_time = NULL,
        worker_id = :worker_id,
        lease_expires_at = coalesce(:now, now()) + make_interval(secs => :lease_seconds),
        updated = coalesce(:now, now())
    FROM chosen
    WHERE fr.id = chosen.id
    RETURNING fr.*
), history AS (
    INSERT INTO flow_run_state (flow_run_id, type, name, timestamp)
    SELECT id, 'PENDING', 'Pending', coalesce(:now, now()) FROM claimed
)
SELECT c.*, f.name AS flow_name, d.name AS deployment_name, wp.name AS work_pool_name,
       wq.name AS work_queue_name, d.entrypoint, d.source, d.job_variables
FROM claimed c
JOIN flow f ON f.id = c.flow_id
JOIN deployment d ON d.id = c.deployment_id
JOIN work_pool wp ON wp.id = c.work_pool_id
LEFT JOIN work_queue wq ON wq.id = c.work_queue_id
ORDER BY c.priority, c.expected_start_time, c.id
"""

_CLAIM_UNLIMITED = f"""
WITH chosen AS (
    SELECT fr.id FROM flow_run fr
    WHERE {_CLAIM_DUE}
      AND NOT EXISTS (SELECT 1 FROM work_pool p WHERE p.id = :pool_id AND p.paused)
    ORDER BY {_CLAIM_ORDER}
    LIMIT :limit
    FOR UPDATE OF fr SKIP LOCKED
)
{_CLAIM_TAIL}
"""

# With a concurrency limit somewhere in the pool (callers hold the pool's advisory lock, so the
# counts below cannot change under us): skip full queues and deployments, lock a few more
# candidates than asked, then keep those that fit every remaining capacity.
_CLAIM_LIMITED = f"""
WITH active AS (
    SELECT work_queue_id, deployment_id FROM flow_run
    WHERE work_pool_id = :pool_id AND state_type IN {ACTIVE_SQL}
), pool_room AS (
    SELECT CASE WHEN p.concurrency_limit IS NULL THEN :limit
                ELSE p.concurrency_limit - (SELECT count(*) FROM active) END AS room
    FROM work_pool p WHERE p.id = :pool_id AND NOT p.paused
), queue_room AS (
    SELECT q.id, q.concurrency_limit
                 - (SELECT count(*) FROM active a WHERE a.work_queue_id = q.id) AS room
    FROM work_queue q WHERE q.work_pool_id = :pool_id AND q.concurrency_limit IS NOT NULL
), deployment_room AS (
    SELECT d.id, d.concurrency_limit
                 - (SELECT count(*) FROM active a WHERE a.deployment_id = d.id) AS room
    FROM deployment d WHERE d.work_pool_id = :pool_id AND d.concurrency_limit IS NOT NULL
), candidates AS (
    SELECT fr.id, fr.work_queue_id, fr.deployment_id, fr.priority, fr.next_scheduled_start_time
    FROM flow_run fr
    WHERE {_CLAIM_DUE}
      AND NOT EXISTS (SELECT 1 FROM queue_room r WHERE r.id = fr.work_queue_id AND r.room <= 0)
      AND NOT EXISTS (
          SELECT 1 FROM deployment_room r WHERE r.id = fr.deployment_id AND r.room <= 0)
    ORDER BY {_CLAIM_ORDER}
    LIMIT :scan
    FOR UPDATE OF fr SKIP LOCKED
), ranked AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY c.work_queue_id ORDER BY {_CLAIM_ORDER.replace("fr.", "c.")}
        ) AS in_queue,
        row_number() OVER (PARTITION BY c.deployment_id ORDER BY {_CLAIM_ORDER.replace("fr.", "c.")}
        ) AS in_deployment
    FROM candidates c
), fitting AS (
    SELECT r.id, row_number() OVER (ORDER BY {_CLAIM_ORDER.replace("fr.", "r.")}) AS in_pool
    FROM ranked r
    LEFT JOIN queue_room qr ON qr.id = r.work_queue_id
    LEFT JOIN deployment_room dr ON dr.id = r.deployment_id
    WHERE (qr.room IS NULL OR r.in_queue <= qr.room)
      AND (dr.room IS NULL OR r.in_deployment <= dr.room)
), chosen AS (
    SELECT f.id FROM fitting f, pool_room p WHERE f.in_pool <= least(:limit, p.room)
)
{_CLAIM_TAIL}
"""

# How many more candidates than asked the limited claim locks: enough that a few runs of a
# full deployment at the head do not starve the batch, few enough to keep the claim short.
CLAIM_SCAN_FACTOR = 4
CLAIM_SCAN_MAX = 400


async def work_pool_has_limits(conn: AsyncConnection, pool_id: uuid.UUID) -> bool:
    """Is a concurrency limit set on the pool, one of its queues or one of its deployments?"""
    return bool(
        (
            await conn.execute(
                text(
                    """
                    SELECT EXISTS (SELECT 1 FROM work_pool
                                   WHERE id = :pool_id AND concurrency_limit IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM work_queue
                                   WHERE work_pool_id = :pool_id AND concurrency_limit IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM deployment
                                   WHERE work_pool_id = :pool_id AND concurrency_limit IS NOT NULL)
                    """
                ),
                {"pool_id": pool_id},
            )
        ).scalar_one()
    )


async def flow_run_claim(
    conn: AsyncConnection,
    pool_id: uuid.UUID,
    worker_id: uuid.UUID,
    limit: int,
    lease_seconds: float,
    now: datetime | None = None,
    *,
    limited: bool | None = None,
) -> list[RowMapping]:
    """Take up to `limit` due runs of the pool to PENDING for `worker_id`, with a lease.

    One statement (SKIP LOCKED, so concurrent claimers never wait on each other nor get the
    same run). Where a concurrency limit is set, claims of the pool are serialised by a
    transaction-level advisory lock so that counting and taking are atomic. `limited` says
    whether a limit is set (None: look it up here; the same transaction must not change it).
    """
    params: dict[str, Any] = {
        "pool_id": pool_id,
        "worker_id": worker_id,
        "limit": limit,
        "lease_seconds": lease_seconds,
        "now": now,
    }
    if limited is None:
        limited = await work_pool_has_limits(conn, pool_id)
    if limited:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('pool:' || CAST(:pool_id AS text)))"),
            {"pool_id": pool_id},
        )
        params["scan"] = min(limit * CLAIM_SCAN_FACTOR, CLAIM_SCAN_MAX)
        sql = _CLAIM_LIMITED
    else:
        sql = _CLAIM_UNLIMITED
    return list((await conn.execute(text(sql), params)).mappings())


async def flow_run_next_start(
    conn: AsyncConnection, pool_id: uuid.UUID, now: datetime | None = None
) -> datetime | None:
    """The earliest future start time of a SCHEDULED run of the pool (a waiting claim wakes
    then). Runs already due but not claimable (paused queue, limit reached) are left out: a
    NOTIFY or the fallback poll wakes the claim for those, never a busy loop."""
    value: datetime | None = (
        await conn.execute(
            text(
                """
                SELECT next_scheduled_start_time FROM flow_run
                WHERE work_pool_id = :pool_id AND state_type = 'SCHEDULED'
                  AND next_scheduled_start_time > coalesce(:now, now())
                ORDER BY next_scheduled_start_time LIMIT 1
                """
            ),
            {"pool_id": pool_id, "now": now},
        )
    ).scalar()
    return value


async def worker_heartbeat(
    conn: AsyncConnection,
    pool_id: uuid.UUID,
    name: str,
    heartbeat_interval_seconds: float | None,
    now: datetime | None = None,
) -> RowMapping:
    """Register the worker `name` of the pool, or record that it is alive."""
    return (
        (
            await conn.execute(
                text(
                    """
                    INSERT INTO worker (work_pool_id, name, last_heartbeat,
                                        heartbeat_interval_seconds, status, created)
                    VALUES (:pool_id, :name, coalesce(:now, now()), :interval, 'ONLINE',
                            coalesce(:now, now()))
                    ON CONFLICT (work_pool_id, name) DO UPDATE SET
                        last_heartbeat = excluded.last_heartbeat,
                        heartbeat_interval_seconds = excluded.heartbeat_interval_seconds,
                        status = 'ONLINE'
                    RETURNING *
                    """
                ),
                {
                    "pool_id": pool_id,
                    "name": name,
                    "interval": heartbeat_interval_seconds,
                    "now": now,
                },
            )
        )
        .mappings()
        .one()
    )


@dataclass(frozen=True)
class LeaseRenewal:
    renewed: list[uuid.UUID]
    # Held runs that were asked to stop.
    cancelling: list[uuid.UUID]
    # Runs the worker named but does not hold any more.
    lost: list[uuid.UUID]


async def flow_run_renew_leases(
    conn: AsyncConnection,
    worker_id: uuid.UUID,
    run_ids: list[uuid.UUID],
    lease_seconds: float,
    now: datetime | None = None,
) -> LeaseRenewal:
    """Extend the leases of the runs the worker still holds (guarded by `worker_id`)."""
    rows = (
        await conn.execute(
            text(
                """
                WITH held AS (
                    SELECT id FROM flow_run
                    WHERE worker_id = :worker_id AND id = ANY(:run_ids)
                    ORDER BY id
                    FOR UPDATE
                ), renewed AS (
                    UPDATE flow_run fr SET
                        lease_expires_at = coalesce(:now, now())
                                           + make_interval(secs => :lease_seconds)
                    FROM held WHERE fr.id = held.id
                    RETURNING fr.id
                )
                SELECT id, false AS cancelling FROM renewed
                UNION ALL
                SELECT id, true FROM flow_run
                WHERE worker_id = :worker_id AND state_type = 'CANCELLING'
                """
            ),
            {
                "worker_id": worker_id,
                "run_ids": list(run_ids),
                "lease_seconds": lease_seconds,
                "now": now,
            },
        )
    ).all()
    renewed = [row[0] for row in rows if not row[1]]
    held = set(renewed)
    return LeaseRenewal(
        renewed=renewed,
        cancelling=[row[0] for row in rows if row[1]],
        lost=[run_id for run_id in dict.fromkeys(run_ids) if run_id not in held],
    )


@dataclass(frozen=True)
class Rescued:
    id: uuid.UUID
    outcome: str  # "crash", "retry", "cancel" or "release"
    state_name: str


# Outcomes of a lease that expired: CANCELLING -> Cancelled (nobody is left to stop it); a run
# waiting for an in-process retry -> released to any worker; otherwise Crashed, then
# AwaitingRetry when retries are left. A run that crashed before RUNNING counts as one attempt,
# so a run whose process always dies early cannot loop forever.
_RESCUE_EXPIRED = """
WITH expired AS (
    SELECT id, CASE
        WHEN state_type = 'CANCELLING' THEN 'cancel'
        WHEN state_type = 'SCHEDULED' THEN 'release'
        WHEN greatest(run_count, 1) <= max_retries THEN 'retry'
        ELSE 'crash' END AS outcome
    FROM flow_run
    WHERE lease_expires_at < coalesce(:now, now())
      AND state_type IN ('SCHEDULED', 'PAUSED', 'CANCELLING', 'PENDING', 'RUNNING')
    ORDER BY lease_expires_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE flow_run fr SET
        state_type = CAST(CASE e.outcome
            WHEN 'cancel' THEN 'CANCELLED' WHEN 'crash' THEN 'CRASHED'
            ELSE 'SCHEDULED' END AS state_type),
        state_name = CASE e.outcome
            WHEN 'cancel' THEN 'Cancelled' WHEN 'crash' THEN 'Crashed'
            WHEN 'retry' THEN 'AwaitingRetry' ELSE fr.state_name END,
        state_message = CASE e.outcome
            WHEN 'cancel' THEN :cancel_message WHEN 'crash' THEN :crash_message
            WHEN 'retry' THEN :retry_message ELSE fr.state_message END,
        state_timestamp = CASE WHEN e.outcome = 'release' THEN fr.state_timestamp
            ELSE coalesce(:now, now()) END,
        end_time = CASE WHEN e.outcome IN ('cancel', 'crash') THEN coalesce(:now, now()) END,
        next_scheduled_start_time = CASE e.outcome
            WHEN 'retry' THEN coalesce(:now, now()) + make_interval(secs => fr.retry_delay_seconds)
            WHEN 'release' THEN fr.next_scheduled_start_time END,
        worker_id = NULL,
        lease_expires_at = NULL,
        updated = coalesce(:now, now())
    FROM expired e
    WHERE fr.id = e.id
    RETURNING fr.id, fr.state_type, fr.state_name, fr.work_pool_id, e.outcome
), history AS (
    INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp)
    SELECT id, CAST('CRASHED' AS state_type), 'Crashed', :crash_message, coalesce(:now, now())
    FROM rescued WHERE outcome IN ('crash', 'retry')
    UNION ALL
    SELECT id, CAST('CANCELLED' AS state_type), 'Cancelled', :cancel_message, coalesce(:now, now())
    FROM rescued WHERE outcome = 'cancel'
    UNION ALL
    -- A microsecond later, so the history reads Crashed then AwaitingRetry.
    SELECT id, CAST('SCHEDULED' AS state_type), 'AwaitingRetry', :retry_message,
           coalesce(:now, now()) + interval '1 microsecond'
    FROM rescued WHERE outcome = 'retry'
), announced AS (
    SELECT pg_notify(:channel, json_build_object(
        'id', id, 'state_type', state_type, 'work_pool_id', work_pool_id)::text)
    FROM rescued
)
SELECT r.id, r.outcome, r.state_name, (SELECT count(*) FROM announced) AS announced
FROM rescued r
"""

RESCUE_BATCH = 1000


async def flow_run_rescue_expired(
    conn: AsyncConnection, now: datetime | None = None, *, batch: int = RESCUE_BATCH
) -> list[Rescued]:
    """Settle up to `batch` runs whose lease expired (their worker stopped heartbeating)."""
    rows = (
        await conn.execute(
            text(_RESCUE_EXPIRED),
            {
                "now": now,
                "batch": batch,
                "channel": FLOW_RUN_CHANNEL,
                "crash_message": "the worker running it stopped renewing its lease "
                "(worker killed, host down or network lost)",
                "retry_message": "rescheduled after a crash (lease expired); retries left",
                "cancel_message": "cancelled; the worker that was stopping it is gone",
            },
        )
    ).all()
    return [Rescued(id=row[0], outcome=row[1], state_name=row[2]) for row in rows]


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
    # only claimed (PENDING) is cancelled at once; its worker learns it was fenced off.
    in_process = state_type in (StateType.RUNNING, StateType.PAUSED) or (
        state_type is StateType.SCHEDULED and current["worker_id"] is not None
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
            text(
                """
                WITH waiting AS (
                    SELECT id FROM flow_run
                    WHERE state_type = 'SCHEDULED'
                      AND (work_pool_id = :pool_id OR deployment_id = :deployment_id)
                    ORDER BY id
                    FOR UPDATE
                ), cancelled AS (
                    UPDATE flow_run fr SET state_type = 'CANCELLED', state_name = 'Cancelled',
                        state_message = :message, state_timestamp = coalesce(:now, now()),
                        end_time = coalesce(:now, now()), next_scheduled_start_time = NULL,
                        worker_id = NULL, lease_expires_at = NULL, updated = coalesce(:now, now())
                    FROM waiting WHERE fr.id = waiting.id
                    RETURNING fr.id
                ), history AS (
                    INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp)
                    SELECT id, 'CANCELLED', 'Cancelled', :message, coalesce(:now, now())
                    FROM cancelled
                )
                SELECT count(*) FROM cancelled
                """
            ),
            {"pool_id": pool_id, "deployment_id": deployment_id, "message": message, "now": now},
        )
    ).scalar_one()
    count: int = rows
    return count


# --- Scheduled runs: the scheduler's batch insert, unscheduling, late marking, missed runs ---


@dataclass(frozen=True)
class ScheduledRun:
    """One run the scheduler materialises; `idempotency_key` is unique per (schedule, time)."""

    name: str
    flow_id: uuid.UUID
    deployment_id: uuid.UUID
    schedule_id: uuid.UUID
    work_pool_id: uuid.UUID
    work_queue_id: uuid.UUID | None
    priority: int
    parameters: dict[str, Any]
    tags: list[str]
    max_retries: int
    retry_delay_seconds: float
    start: datetime
    idempotency_key: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flow_id": str(self.flow_id),
            "deployment_id": str(self.deployment_id),
            "schedule_id": str(self.schedule_id),
            "work_pool_id": str(self.work_pool_id),
            "work_queue_id": str(self.work_queue_id) if self.work_queue_id else None,
            "priority": self.priority,
            "parameters": self.parameters,
            "tags": self.tags,
            "max_retries": self.max_retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "start": self.start.isoformat(),
            "idempotency_key": self.idempotency_key,
        }


async def flow_run_create_scheduled_many(
    conn: AsyncConnection, runs: list[ScheduledRun], now: datetime | None = None
) -> int:
    """Insert auto-scheduled SCHEDULED runs and their first states in one statement; a run
    whose idempotency key exists already is skipped. Returns how many were inserted."""
    if not runs:
        return 0
    rows = (
        await conn.execute(
            text(
                """
                WITH inserted AS (
                    INSERT INTO flow_run (
                        name, flow_id, deployment_id, work_pool_id, work_queue_id, schedule_id,
                        parameters, tags, state_type, state_name, state_timestamp, run_count,
                        max_retries, retry_delay_seconds, priority, expected_start_time,
                        next_scheduled_start_time, idempotency_key, auto_scheduled,
                        created, updated)
                    SELECT r.name, r.flow_id, r.deployment_id, r.work_pool_id, r.work_queue_id,
                        r.schedule_id, r.parameters, r.tags, 'SCHEDULED', 'Scheduled',
                        coalesce(:now, now()), 0, r.max_retries, r.retry_delay_seconds,
                        r.priority, r.start, r.start, r.idempotency_key, true,
                        coalesce(:now, now()), coalesce(:now, now())
                    FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS r(
                        name text, flow_id uuid, deployment_id uuid, work_pool_id uuid,
                        work_queue_id uuid, schedule_id uuid, parameters jsonb, tags text[],
                        max_retries int, retry_delay_seconds float8, priority int,
                        start timestamptz, idempotency_key text)
                    ORDER BY r.start
                    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                    RETURNING id, work_pool_id, next_scheduled_start_time
                ), history AS (
                    INSERT INTO flow_run_state (flow_run_id, type, name, timestamp)
                    SELECT id, 'SCHEDULED', 'Scheduled', coalesce(:now, now()) FROM inserted
                ), first_per_pool AS (
                    SELECT DISTINCT ON (work_pool_id) id, work_pool_id
                    FROM inserted ORDER BY work_pool_id, next_scheduled_start_time
                )
                -- One NOTIFY per pool, not per run: a waiting claim only needs to re-look.
                SELECT (SELECT count(*) FROM inserted) AS created,
                       (SELECT count(*) FROM first_per_pool, LATERAL pg_notify(
                            :channel,
                            json_build_object('id', id, 'state_type', 'SCHEDULED',
                                              'work_pool_id', work_pool_id)::text)) AS notified
                """
            ),
            {
                "runs": json.dumps([run.as_json() for run in runs]),
                "now": now,
                "channel": FLOW_RUN_CHANNEL,
            },
        )
    ).one()
    created: int = rows.created
    return created


async def flow_run_delete_future_auto_scheduled(
    conn: AsyncConnection, schedule_ids: list[uuid.UUID]
) -> int:
    """Delete the not-yet-started auto-scheduled runs of these schedules (SCHEDULED, never
    run); a run a worker claimed meanwhile is no longer SCHEDULED and stays. How many."""
    if not schedule_ids:
        return 0
    deleted: int = (
        await conn.execute(
            text(
                """
                WITH gone AS (
                    DELETE FROM flow_run
                    WHERE schedule_id = ANY(CAST(:ids AS uuid[]))
                      AND state_type = 'SCHEDULED' AND auto_scheduled AND run_count = 0
                    RETURNING id
                )
                SELECT count(*) FROM gone
                """
            ),
            {"ids": schedule_ids},
        )
    ).scalar_one()
    return deleted


LATE_BATCH = 1000


async def flow_run_mark_late(
    conn: AsyncConnection, *, late_after_seconds: float, now: datetime | None = None
) -> list[uuid.UUID]:
    """Rename waiting runs more than `late_after_seconds` past their start time from
    Scheduled to Late (type stays SCHEDULED: still claimable), with a history row each.

    No NOTIFY: nothing became claimable that was not already, so claims need not wake."""
    rows = await conn.execute(
        text(
            """
            WITH late AS (
                SELECT id FROM flow_run
                WHERE state_type = 'SCHEDULED' AND state_name = 'Scheduled'
                  AND next_scheduled_start_time
                      < coalesce(:now, now()) - make_interval(secs => :late_after)
                ORDER BY next_scheduled_start_time
                LIMIT :batch
                FOR UPDATE SKIP LOCKED
            ), marked AS (
                UPDATE flow_run fr SET state_name = 'Late', state_message = :message,
                    state_timestamp = coalesce(:now, now()), updated = coalesce(:now, now())
                FROM late WHERE fr.id = late.id
                RETURNING fr.id
            ), history AS (
                INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp)
                SELECT id, 'SCHEDULED', 'Late', :message, coalesce(:now, now()) FROM marked
            )
            SELECT id FROM marked
            """
        ),
        {
            "now": now,
            "late_after": late_after_seconds,
            "batch": LATE_BATCH,
            "message": f"not claimed within {late_after_seconds:g}s of its start time",
        },
    )
    return list(rows.scalars())


async def flow_run_skip_missed(conn: AsyncConnection, now: datetime | None = None) -> int:
    """Of each schedule's overdue never-started runs, keep the newest and cancel the older
    ones as Skipped, unless the deployment asked for catch-up. How many were skipped.

    This is what stops a burst after downtime (of the server or of every worker): a schedule
    that missed ten times runs once, now, not ten times in a row."""
    message = (
        "skipped: a later run of the same schedule came due before this one started "
        "(the deployment has catchup off)"
    )
    skipped: int = (
        await conn.execute(
            text(
                """
                WITH overdue AS (
                    SELECT fr.id, row_number() OVER (
                        PARTITION BY fr.schedule_id
                        ORDER BY fr.next_scheduled_start_time DESC, fr.id DESC) AS rank
                    FROM flow_run fr JOIN deployment d ON d.id = fr.deployment_id
                    WHERE fr.state_type = 'SCHEDULED'
                      AND fr.next_scheduled_start_time <= coalesce(:now, now())
                      AND fr.auto_scheduled AND fr.run_count = 0
                      AND fr.schedule_id IS NOT NULL AND NOT d.catchup
                ), doomed AS (
                    SELECT fr.id FROM flow_run fr JOIN overdue o ON o.id = fr.id
                    WHERE o.rank > 1 AND fr.state_type = 'SCHEDULED'
                    FOR UPDATE OF fr SKIP LOCKED
                ), cancelled AS (
                    UPDATE flow_run fr SET state_type = 'CANCELLED', state_name = 'Skipped',
                        state_message = :message, state_timestamp = coalesce(:now, now()),
                        end_time = coalesce(:now, now()), next_scheduled_start_time = NULL,
                        updated = coalesce(:now, now())
                    FROM doomed WHERE fr.id = doomed.id
                    RETURNING fr.id
                ), history AS (
                    INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp)
                    SELECT id, 'CANCELLED', 'Skipped', :message, coalesce(:now, now())
                    FROM cancelled
                )
                SELECT count(*) FROM cancelled
                """
            ),
            {"now": now, "message": message},
        )
    ).scalar_one()
    return skipped
