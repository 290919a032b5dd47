"""Workers of a pool: heartbeats (which renew leases), claims (a long poll for due runs) and
the cancellation watch (a long poll for held runs asked to stop, so that a cancellation reaches
the worker at once rather than at its next heartbeat).

A claim with nothing due waits without holding a database connection: it sleeps on the
process's LISTEN notifier until a run of this pool becomes due or finishes (a finished run
frees a concurrency slot), until the next run's start time, or until its timeout, and re-polls
every `claim_fallback_poll_seconds` in case a NOTIFY was lost or LISTEN is turned off.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.work_pools import (
    CancellationWait,
    ClaimedRun,
    ClaimRequest,
    HeartbeatResponse,
    Worker,
    WorkerHeartbeat,
)
from headrace_service import metrics, queue
from headrace_service.api.deps import db, notifier, settings, to_model
from headrace_service.api.routing import Router
from headrace_service.notifier import Event, Subscription
from headrace_service.store import work_pools as store
from headrace_service.store.resource_events import related_labels, resource_changed
from headrace_service.store.worker_events import worker_was_online
from headrace_service.variable_templates import fill_claimed_runs

router = Router("workers")

# Events that may make a claim succeed: a run became due, or one finished (a slot freed).
WAKING_TYPES = frozenset(t.value for t in queue.CLAIM_WAKING_TYPES)
CANCELLING_TYPES = frozenset(t.value for t in queue.CANCEL_WAKING_TYPES)


@router.route(
    "POST",
    "/work_pools/{name}/workers/heartbeat",
    scope="worker",
    body=WorkerHeartbeat,
    response=HeartbeatResponse,
    # Its own pool: a flood of other requests must not starve lease renewals (false Crashed).
    pool="lease",
)
async def heartbeat(request: Request, name: str, body: WorkerHeartbeat) -> HeartbeatResponse:
    """Register or refresh a worker; renew the leases of its runs; say which to cancel."""
    config = settings(request)
    async with db(request).begin() as conn:
        pool_id = await store.work_pool_id_require(conn, name)
        was_online = await worker_was_online(conn, pool_id, body.name, config.heartbeat_seconds)
        worker = await queue.worker_heartbeat(
            conn,
            pool_id,
            body.name,
            body.heartbeat_interval_seconds,
            stopping=body.stopping,
            announcement=body.announcement,
        )
        renewal = await queue.flow_run_renew_leases(
            conn, worker["id"], body.run_ids, config.lease_seconds
        )
        if not was_online and not body.stopping:
            await resource_changed(
                conn,
                "worker",
                "online",
                worker["id"],
                worker["name"],
                related=[related_labels("work-pool", pool_id, name)],
            )
    return HeartbeatResponse(
        worker_id=worker["id"],
        cancel_run_ids=renewal.cancelling,
        lost_run_ids=renewal.lost,
        suspend_run_ids=renewal.suspended,
        lease_seconds=config.lease_seconds,
        heartbeat_seconds=config.heartbeat_seconds,
    )


@router.route("GET", "/work_pools/{name}/workers", response=list[Worker])
async def list_workers(request: Request, name: str) -> list[Worker]:
    """The workers of a pool with their last heartbeat and status."""
    beat = settings(request).heartbeat_seconds
    async with db(request).begin() as conn:
        pool = await store.work_pool_require(conn, name, heartbeat_seconds=beat)
        rows = await store.worker_list(conn, pool["id"], heartbeat_seconds=beat)
    return [to_model(Worker, row) for row in rows]


@router.route(
    "POST",
    "/work_pools/{name}/claim",
    scope="worker",
    body=ClaimRequest,
    response=list[ClaimedRun],
)
async def claim(request: Request, name: str, body: ClaimRequest) -> list[ClaimedRun]:
    """Claim up to `limit` due runs (now PENDING for this worker); wait up to `wait_seconds`."""
    config = settings(request)
    wait = min(body.wait_seconds, config.claim_max_wait_seconds)
    async with db(request).begin() as conn:
        pool_id, limited = await store.work_pool_worker_check(conn, name, body.worker_id)
        claimed = await _claim(conn, name, pool_id, body, config.lease_seconds, limited)
    if claimed or wait <= 0:
        return claimed
    # Subscribed before the next try, so a run made due in between still wakes us.
    async with notifier(request).subscribe([queue.WORK_POOL_CHANNEL]) as subscription:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            # A worker that went away mid-poll (stopped, killed) must not be handed runs.
            if await request.is_disconnected():
                return []
            async with db(request).begin() as conn:
                # Limits may have changed while we waited: look them up again.
                claimed = await _claim(conn, name, pool_id, body, config.lease_seconds, None)
                next_start = None if claimed else await queue.flow_run_next_start(conn, pool_id)
            remaining = deadline - loop.time()
            if claimed or remaining <= 0:
                return claimed
            timeout = min(remaining, config.claim_fallback_poll_seconds)
            if next_start is not None:
                timeout = min(timeout, max((next_start - datetime.now(UTC)).total_seconds(), 0))
            await _wait_for_pool(subscription, pool_id, timeout, WAKING_TYPES)


@router.route(
    "POST",
    "/work_pools/{name}/workers/cancellations",
    scope="worker",
    body=CancellationWait,
    response=list[uuid.UUID],
)
async def wait_for_cancellations(
    request: Request, name: str, body: CancellationWait
) -> list[uuid.UUID]:
    """The runs this worker holds that were asked to stop (minus `ignore_run_ids`); with none,
    wait up to `wait_seconds` for one."""
    config = settings(request)
    wait = min(body.wait_seconds, config.claim_max_wait_seconds)
    # Subscribed before the first read, so a cancellation in between still wakes us.
    async with notifier(request).subscribe([queue.WORK_POOL_CHANNEL]) as subscription:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            async with db(request).begin() as conn:
                pool_id, _ = await store.work_pool_worker_check(conn, name, body.worker_id)
                asked = await queue.flow_run_cancelling_of_worker(
                    conn, body.worker_id, body.ignore_run_ids
                )
            remaining = deadline - loop.time()
            if asked or remaining <= 0 or await request.is_disconnected():
                return asked
            timeout = min(remaining, config.claim_fallback_poll_seconds)
            await _wait_for_pool(subscription, pool_id, timeout, CANCELLING_TYPES)


async def _claim(
    conn: AsyncConnection,
    pool_name: str,
    pool_id: uuid.UUID,
    body: ClaimRequest,
    lease_seconds: float,
    limited: bool | None,
) -> list[ClaimedRun]:
    # Callers commit before responding: a run handed out is really taken.
    started = time.perf_counter()
    rows = await queue.flow_run_claim(
        conn, pool_id, body.worker_id, body.limit, lease_seconds, limited=limited
    )
    metrics.observe_claim(pool_name, time.perf_counter() - started, len(rows))
    now = datetime.now(UTC)
    metrics.observe_pickup(
        pool_name,
        # The claim clears next_scheduled_start_time; the run's expected start remains.
        [
            (now - row["expected_start_time"]).total_seconds()
            for row in rows
            if row["expected_start_time"] is not None
        ],
    )
    claimed = [claimed_run(row) for row in rows]
    await fill_claimed_runs(conn, claimed)
    return claimed


def claimed_run(row: RowMapping) -> ClaimedRun:
    source: dict[str, Any] = row["source"] or {}
    return ClaimedRun(
        flow_run=to_model(FlowRun, row),
        deployment_id=row["deployment_id"],
        deployment_name=row["deployment_name"],
        flow_name=row["flow_name"],
        entrypoint=row["entrypoint"],
        path=source.get("path"),
        source=source,
        parameters=row["parameters"],
        job_variables=row["job_variables"] or {},
        lease_expires_at=row["lease_expires_at"],
    )


async def _wait_for_pool(
    subscription: Subscription, pool_id: uuid.UUID, timeout: float, types: frozenset[str]
) -> None:
    """Return on a state change to one of `types` in this pool, or after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wanted = str(pool_id)
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        arrived, event = await subscription.next(remaining)
        if not arrived or _wakes(event, wanted, types):
            return


def _wakes(event: Event, pool_id: str, types: frozenset[str]) -> bool:
    if event is None:  # the notifier reconnected: anything may have happened
        return True
    return event.get("work_pool_id") == pool_id and event.get("state_type") in types
