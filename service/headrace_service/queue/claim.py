"""The claim: due runs of a pool handed to a worker in one statement, limits checked."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.models import ACTIVE_SQL
from headrace_service.queue.state_columns import NOW, state_set
from headrace_service.queue.state_tail import changes_from, state_tail

# What the claim filters on: exactly the partial index ix_flow_run_claim (pool equality, then
# the ORDER BY). Runs still held by a worker (an in-process retry waiting) and runs of a paused
# queue are skipped row by row; they are few. A worker that said it is stopping gets nothing
# (an uncorrelated test, evaluated once): its long poll may still be waiting on the server.
_CLAIM_DUE = """
    fr.work_pool_id = :pool_id
    AND fr.state_type = 'SCHEDULED'
    AND fr.next_scheduled_start_time <= coalesce(:now, now())
    AND fr.worker_id IS NULL
    AND fr.deployment_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM work_queue q WHERE q.id = fr.work_queue_id AND q.paused)
    AND NOT EXISTS (SELECT 1 FROM worker w WHERE w.id = :worker_id AND w.status = 'STOPPING')
"""
_CLAIM_ORDER = "fr.priority, fr.next_scheduled_start_time, fr.id"

# Shared end of both claim statements: take the `chosen` rows (with the state they leave,
# `old_type` and `old_name`) to PENDING for the worker with a lease, record and announce the
# changes, and return the runs with what the worker needs to run them.
_CLAIM_TAIL = f"""
, claimed AS (
    UPDATE flow_run fr SET {
    state_set(
        "CAST('PENDING' AS state_type)",
        "'Pending'",
        "NULL",
        holder="CAST(:worker_id AS uuid)",
        lease=f"{NOW} + make_interval(secs => :lease_seconds)",
    )
}
    FROM chosen
    WHERE fr.id = chosen.id
    RETURNING fr.*, chosen.old_type, chosen.old_name
), state_changes AS ({changes_from("claimed")})
{state_tail()}
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
    SELECT fr.id, fr.state_type AS old_type, fr.state_name AS old_name FROM flow_run fr
    WHERE {_CLAIM_DUE}
      AND NOT EXISTS (SELECT 1 FROM work_pool p WHERE p.id = :pool_id AND p.paused)
    ORDER BY {_CLAIM_ORDER}
    LIMIT :limit
    FOR UPDATE OF fr SKIP LOCKED
)
{_CLAIM_TAIL}
"""

# A run's key value as the deployment limit counts it: its rendered key when its deployment
# has a concurrency key now, else NULL (all the deployment's runs count together).
_RUN_KEY = (
    "CASE WHEN EXISTS (SELECT 1 FROM deployment_limit dl WHERE dl.id = {run}.deployment_id "
    "AND dl.keyed) THEN {run}.concurrency_key END"
)

# With a concurrency limit somewhere in the pool (callers hold the pool's advisory lock, so the
# counts below cannot change under us): skip full queues and deployment slots (a deployment, or
# one key value of a deployment with a concurrency key), lock a few more candidates than asked,
# then keep those that fit every remaining capacity.
_CLAIM_LIMITED = f"""
WITH active AS (
    SELECT work_queue_id, deployment_id, concurrency_key FROM flow_run
    WHERE work_pool_id = :pool_id AND state_type IN {ACTIVE_SQL}
), pool_room AS (
    SELECT CASE WHEN p.concurrency_limit IS NULL THEN :limit
                ELSE p.concurrency_limit - (SELECT count(*) FROM active) END AS room
    FROM work_pool p WHERE p.id = :pool_id AND NOT p.paused
), queue_room AS (
    SELECT q.id, q.concurrency_limit
                 - (SELECT count(*) FROM active a WHERE a.work_queue_id = q.id) AS room
    FROM work_queue q WHERE q.work_pool_id = :pool_id AND q.concurrency_limit IS NOT NULL
), deployment_limit AS (
    SELECT d.id, d.concurrency_limit, d.concurrency_key IS NOT NULL AS keyed
    FROM deployment d WHERE d.work_pool_id = :pool_id AND d.concurrency_limit IS NOT NULL
), deployment_room AS (
    -- Only slots with active runs appear; a slot not listed has its whole limit free.
    SELECT a.deployment_id, a.slot_key, min(dl.concurrency_limit) - count(*) AS room
    FROM (SELECT deployment_id, {_RUN_KEY.format(run="active")} AS slot_key FROM active) a
    JOIN deployment_limit dl ON dl.id = a.deployment_id
    GROUP BY a.deployment_id, a.slot_key
), candidates AS (
    SELECT fr.id, fr.work_queue_id, fr.deployment_id, fr.priority, fr.next_scheduled_start_time,
           fr.state_type AS old_type, fr.state_name AS old_name,
           {_RUN_KEY.format(run="fr")} AS slot_key
    FROM flow_run fr
    WHERE {_CLAIM_DUE}
      AND NOT EXISTS (SELECT 1 FROM queue_room r WHERE r.id = fr.work_queue_id AND r.room <= 0)
      AND NOT EXISTS (
          SELECT 1 FROM deployment_room r
          WHERE r.deployment_id = fr.deployment_id
            AND r.slot_key IS NOT DISTINCT FROM ({_RUN_KEY.format(run="fr")}) AND r.room <= 0)
    ORDER BY {_CLAIM_ORDER}
    LIMIT :scan
    FOR UPDATE OF fr SKIP LOCKED
), ranked AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY c.work_queue_id ORDER BY {_CLAIM_ORDER.replace("fr.", "c.")}
        ) AS in_queue,
        row_number() OVER (
            PARTITION BY c.deployment_id, c.slot_key ORDER BY {_CLAIM_ORDER.replace("fr.", "c.")}
        ) AS in_deployment
    FROM candidates c
), fitting AS (
    SELECT r.id, r.old_type, r.old_name,
           row_number() OVER (ORDER BY {_CLAIM_ORDER.replace("fr.", "r.")}) AS in_pool
    FROM ranked r
    LEFT JOIN queue_room qr ON qr.id = r.work_queue_id
    LEFT JOIN deployment_limit dl ON dl.id = r.deployment_id
    LEFT JOIN deployment_room dr
           ON dr.deployment_id = r.deployment_id AND dr.slot_key IS NOT DISTINCT FROM r.slot_key
    WHERE (qr.room IS NULL OR r.in_queue <= qr.room)
      AND (dl.id IS NULL OR r.in_deployment <= coalesce(dr.room, dl.concurrency_limit))
), chosen AS (
    SELECT f.id, f.old_type, f.old_name
    FROM fitting f, pool_room p WHERE f.in_pool <= least(:limit, p.room)
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
