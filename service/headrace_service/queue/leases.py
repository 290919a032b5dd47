"""Leases: worker heartbeats renew them; the reaper rescues runs whose lease expired."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.work_pools import PoolTypeAnnouncement
from headrace_service.queue.states import FLOW_RUN_CHANNEL


async def worker_heartbeat(
    conn: AsyncConnection,
    pool_id: uuid.UUID,
    name: str,
    heartbeat_interval_seconds: float | None,
    now: datetime | None = None,
    *,
    stopping: bool = False,
    announcement: PoolTypeAnnouncement | None = None,
) -> RowMapping:
    """Register the worker `name` of the pool, or record that it is alive. A `stopping` worker
    is STOPPING: claims hand it nothing (see claim.py) until it heartbeats ONLINE again. The
    pool type it announces (on registering) is kept until it announces another."""
    return (
        (
            await conn.execute(
                text(
                    """
                    INSERT INTO worker (work_pool_id, name, last_heartbeat,
                                        heartbeat_interval_seconds, status, pool_type,
                                        job_variables_schema, created)
                    VALUES (:pool_id, :name, coalesce(:now, now()), :interval, :status,
                            :pool_type, CAST(:schema AS jsonb), coalesce(:now, now()))
                    ON CONFLICT (work_pool_id, name) DO UPDATE SET
                        last_heartbeat = excluded.last_heartbeat,
                        heartbeat_interval_seconds = excluded.heartbeat_interval_seconds,
                        status = excluded.status,
                        pool_type = coalesce(excluded.pool_type, worker.pool_type),
                        job_variables_schema = coalesce(excluded.job_variables_schema,
                                                        worker.job_variables_schema)
                    RETURNING *
                    """
                ),
                {
                    "pool_id": pool_id,
                    "name": name,
                    "interval": heartbeat_interval_seconds,
                    "status": "STOPPING" if stopping else "ONLINE",
                    "pool_type": announcement.type if announcement else None,
                    "schema": (
                        json.dumps(announcement.job_variables_schema) if announcement else None
                    ),
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
    # Runs the worker named but does not hold any more, except those its own attempt finished.
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
                SELECT id, 'renewed' AS kind FROM renewed
                UNION ALL
                SELECT id, 'cancelling' FROM flow_run
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
    renewed = [row[0] for row in rows if row[1] == "renewed"]
    unrenewed = [run_id for run_id in dict.fromkeys(run_ids) if run_id not in set(renewed)]
    ended = await _ended_by_worker(conn, worker_id, unrenewed) if unrenewed else set()
    return LeaseRenewal(
        renewed=renewed,
        cancelling=[row[0] for row in rows if row[1] == "cancelling"],
        lost=[run_id for run_id in unrenewed if run_id not in ended],
    )


async def _ended_by_worker(
    conn: AsyncConnection, worker_id: uuid.UUID, run_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """The runs among `run_ids` that this worker's own attempt finished (it reported their final
    state): not lost, their flow process is only exiting. A run rescued by the reaper or taken
    over by another worker has a newer state written by someone else.

    A statement of its own: the renewal above may have waited on the row lock of a final state
    being written, and then skipped the row; only a new snapshot sees that state committed."""
    rows = await conn.execute(
        text(
            """
            SELECT fr.id FROM flow_run fr
            WHERE fr.id = ANY(:run_ids) AND fr.worker_id IS NULL
              AND fr.state_type IN ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
              AND (SELECT s.reported_by_worker_id FROM flow_run_state s
                   WHERE s.flow_run_id = fr.id
                   ORDER BY s.timestamp DESC, s.id DESC LIMIT 1) = :worker_id
            """
        ),
        {"run_ids": run_ids, "worker_id": worker_id},
    )
    return {row[0] for row in rows}


async def flow_run_cancelling_of_worker(
    conn: AsyncConnection, worker_id: uuid.UUID, ignore: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The runs `worker_id` holds that were asked to stop, except those in `ignore`."""
    rows = await conn.execute(
        text(
            "SELECT id FROM flow_run WHERE worker_id = :worker_id AND state_type = 'CANCELLING' "
            "AND NOT id = ANY(:ignore) ORDER BY id"
        ),
        {"worker_id": worker_id, "ignore": list(ignore)},
    )
    return [row[0] for row in rows]


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
