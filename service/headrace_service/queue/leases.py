"""Leases: worker heartbeats renew them; the reaper rescues runs whose lease expired."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.work_pools import PoolTypeAnnouncement
from headrace_service.models import TERMINAL_SQL
from headrace_service.queue.state_columns import NOW, SUSPENDED, state_set
from headrace_service.queue.state_tail import changes_from, state_tail


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
    # Runs the worker named but does not hold any more, except those its own attempt finished
    # and those suspended by request.
    lost: list[uuid.UUID]
    # Runs the worker named that were suspended from outside (api/pauses.py): it stops their
    # processes and reports nothing (the run is Suspended, and no longer its).
    suspended: list[uuid.UUID] = field(default_factory=list)


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
    suspended = await _suspended_by_request(conn, unrenewed) if unrenewed else set()
    return LeaseRenewal(
        renewed=renewed,
        cancelling=[row[0] for row in rows if row[1] == "cancelling"],
        lost=[run_id for run_id in unrenewed if run_id not in ended | suspended],
        suspended=[run_id for run_id in unrenewed if run_id in suspended],
    )


async def _suspended_by_request(conn: AsyncConnection, run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The runs among `run_ids` that are Suspended by request (their newest state says so): a
    worker still running one must stop its process. A run that suspended itself is left
    alone: its process is exiting by itself."""
    rows = await conn.execute(
        text(
            f"""
            SELECT fr.id FROM flow_run fr
            WHERE fr.id = ANY(:run_ids) AND fr.state_type = 'PAUSED'
              AND fr.state_name = '{SUSPENDED}'
              AND (SELECT s.data ->> 'by_request' FROM flow_run_state s
                   WHERE s.flow_run_id = fr.id
                   ORDER BY s.timestamp DESC, s.id DESC LIMIT 1) = 'true'
            """
        ),
        {"run_ids": run_ids},
    )
    return {row[0] for row in rows}


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
            f"""
            SELECT fr.id FROM flow_run fr
            WHERE fr.id = ANY(:run_ids) AND fr.worker_id IS NULL
              AND fr.state_type IN {TERMINAL_SQL}
              AND (SELECT s.reported_by_worker_id FROM flow_run_state s
                   WHERE s.flow_run_id = fr.id
                   ORDER BY s.timestamp DESC, s.id DESC LIMIT 1) = :worker_id
            """
        ),
        {"run_ids": run_ids, "worker_id": worker_id},
    )
    return {row[0] for row in rows}


async def flow_run_lease_get(conn: AsyncConnection, run_id: uuid.UUID) -> RowMapping | None:
    """Who holds the run, until when, and its state type (None: no such run). A plain read:
    the flow process of an attempt asks it to learn whether its worker still holds the run."""
    return (
        (
            await conn.execute(
                text(
                    "SELECT worker_id, lease_expires_at, state_type, state_name "
                    "FROM flow_run WHERE id = :id"
                ),
                {"id": run_id},
            )
        )
        .mappings()
        .first()
    )


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
# waiting for an in-process retry -> released to any worker (same state, no holder: announced,
# not recorded); otherwise Crashed, then AwaitingRetry when retries are left. A run that crashed
# before RUNNING counts as one attempt, so a run whose process always dies early cannot loop
# forever.
_RESCUE_EXPIRED = f"""
WITH expired AS (
    SELECT id, state_type AS old_type, state_name AS old_name, state_message AS old_message,
        state_timestamp AS old_timestamp, CASE
        WHEN state_type = 'CANCELLING' THEN 'cancel'
        WHEN state_type = 'SCHEDULED' THEN 'release'
        WHEN greatest(run_count, 1) <= max_retries THEN 'retry'
        ELSE 'crash' END AS outcome
    FROM flow_run
    WHERE lease_expires_at < {NOW} AND state_type NOT IN {TERMINAL_SQL}
    ORDER BY lease_expires_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), settled AS (
    SELECT e.*,
        CAST(CASE e.outcome WHEN 'cancel' THEN 'CANCELLED' WHEN 'crash' THEN 'CRASHED'
            ELSE 'SCHEDULED' END AS state_type) AS new_type,
        CASE e.outcome WHEN 'cancel' THEN 'Cancelled' WHEN 'crash' THEN 'Crashed'
            WHEN 'retry' THEN 'AwaitingRetry' ELSE e.old_name END AS new_name,
        CASE e.outcome WHEN 'cancel' THEN :cancel_message WHEN 'crash' THEN :crash_message
            WHEN 'retry' THEN :retry_message ELSE e.old_message END AS new_message,
        -- A microsecond after the crash, so the history reads Crashed then AwaitingRetry.
        CASE e.outcome WHEN 'release' THEN e.old_timestamp
            WHEN 'retry' THEN {NOW} + interval '1 microsecond' ELSE {NOW} END AS new_timestamp
    FROM expired e
), rescued AS (
    UPDATE flow_run fr SET {
    state_set(
        "s.new_type",
        "s.new_name",
        "s.new_message",
        timestamp="s.new_timestamp",
        next_start=f"CASE s.outcome WHEN 'retry' "
        f"THEN {NOW} + make_interval(secs => fr.retry_delay_seconds) "
        "ELSE fr.next_scheduled_start_time END",
    )
}
    FROM settled s
    WHERE fr.id = s.id
    RETURNING fr.*, s.outcome,
        -- A retry passes through Crashed: two changes, each recorded.
        CASE WHEN s.outcome = 'retry' THEN CAST('CRASHED' AS state_type)
            ELSE s.old_type END AS old_type,
        CASE WHEN s.outcome = 'retry' THEN 'Crashed' ELSE s.old_name END AS old_name,
        s.old_type AS left_type, s.old_name AS left_name
), state_changes AS (
    SELECT id AS flow_run_id, work_pool_id, left_type AS old_type, left_name AS old_name,
           CAST('CRASHED' AS state_type) AS new_type, 'Crashed' AS new_name,
           :crash_message AS message, {NOW} AS occurred
    FROM rescued WHERE outcome = 'retry'
    UNION ALL {changes_from("rescued")}
)
{state_tail()}
SELECT id, outcome, state_name FROM rescued
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
                "crash_message": "the worker running it stopped renewing its lease "
                "(worker killed, host down or network lost)",
                "retry_message": "rescheduled after a crash (lease expired); retries left",
                "cancel_message": "cancelled; the worker that was stopping it is gone",
            },
        )
    ).all()
    return [Rescued(id=row[0], outcome=row[1], state_name=row[2]) for row in rows]
