"""Work pools and their queues: create, list, read, pause/resume, limit, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.work_pools import (
    WorkPool,
    WorkPoolCreate,
    WorkPoolCreateQuery,
    WorkPoolUpdate,
    WorkQueue,
    WorkQueueCreate,
    WorkQueueUpdate,
)
from headrace_service import queue
from headrace_service.api.deps import db, settings, to_model
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.store import work_pools as store
from headrace_service.store.resource_events import Action, related_labels, resource_changed

router = Router("work_pools")


async def read_pool(request: Request, conn: AsyncConnection, name: str) -> WorkPool:
    row = await store.work_pool_require(
        conn, name, heartbeat_seconds=settings(request).heartbeat_seconds
    )
    return to_model(WorkPool, row)


@router.route(
    "POST",
    "/work_pools",
    scope="admin",
    body=WorkPoolCreate,
    query=WorkPoolCreateQuery,
    response=WorkPool,
    status=201,
)
async def create_work_pool(
    request: Request, body: WorkPoolCreate, query: WorkPoolCreateQuery
) -> WorkPool:
    """Create a work pool (and its "default" queue); 409 if it exists unless overwrite."""
    async with db(request).begin() as conn:
        await store.work_pool_create(conn, body, overwrite=query.overwrite)
        pool = await read_pool(request, conn, body.name)
        await resource_changed(conn, "work-pool", "created", pool.id, pool.name)
        return pool


@router.route("GET", "/work_pools", response=list[WorkPool])
async def list_work_pools(request: Request) -> list[WorkPool]:
    """List work pools with their workers online and runs waiting."""
    async with db(request).begin() as conn:
        rows = await store.work_pool_list(
            conn, heartbeat_seconds=settings(request).heartbeat_seconds
        )
    return [to_model(WorkPool, row) for row in rows]


@router.route("GET", "/work_pools/{name}", response=WorkPool)
async def read_work_pool(request: Request, name: str) -> WorkPool:
    """Read a work pool."""
    async with db(request).begin() as conn:
        return await read_pool(request, conn, name)


@router.route("PATCH", "/work_pools/{name}", scope="admin", body=WorkPoolUpdate, response=WorkPool)
async def update_work_pool(request: Request, name: str, body: WorkPoolUpdate) -> WorkPool:
    """Pause or resume a pool, or change its concurrency limit (null: no limit)."""
    changes = changes_of(body)
    async with db(request).begin() as conn:
        await read_pool(request, conn, name)
        if changes:
            await store.work_pool_update(conn, name, changes)
        pool = await read_pool(request, conn, name)
        if changes:
            await resource_changed(
                conn, "work-pool", "updated", pool.id, pool.name, changes=changes
            )
        return pool


@router.route("DELETE", "/work_pools/{name}", scope="admin", status=204)
async def delete_work_pool(request: Request, name: str) -> Response:
    """Delete a pool, its queues and workers; its waiting runs are cancelled."""
    async with db(request).begin() as conn:
        pool = await read_pool(request, conn, name)
        await queue.flow_run_cancel_waiting(
            conn, pool_id=pool.id, message=f"cancelled: work pool {name!r} was deleted"
        )
        await store.work_pool_delete(conn, pool.id)
        await resource_changed(conn, "work-pool", "deleted", pool.id, pool.name)
    return Response(status_code=204)


@router.route(
    "POST",
    "/work_pools/{name}/queues",
    scope="admin",
    body=WorkQueueCreate,
    response=WorkQueue,
    status=201,
)
async def create_work_queue(request: Request, name: str, body: WorkQueueCreate) -> WorkQueue:
    """Create a queue in a pool; 409 if the pool already has one of that name."""
    async with db(request).begin() as conn:
        pool = await read_pool(request, conn, name)
        await store.work_queue_create(conn, pool.id, pool.name, body)
        created = await store.work_queue_require(conn, pool.id, name, body.name)
        await _queue_changed(conn, "created", created, pool)
        return to_model(WorkQueue, created)


@router.route("GET", "/work_pools/{name}/queues", response=list[WorkQueue])
async def list_work_queues(request: Request, name: str) -> list[WorkQueue]:
    """List the queues of a pool, most urgent first."""
    async with db(request).begin() as conn:
        pool = await read_pool(request, conn, name)
        rows = await store.work_queue_list(conn, pool.id)
    return [to_model(WorkQueue, row) for row in rows]


@router.route("GET", "/work_pools/{name}/queues/{queue_name}", response=WorkQueue)
async def read_work_queue(request: Request, name: str, queue_name: str) -> WorkQueue:
    """Read a queue of a pool."""
    async with db(request).begin() as conn:
        pool = await read_pool(request, conn, name)
        return to_model(WorkQueue, await store.work_queue_require(conn, pool.id, name, queue_name))


@router.route(
    "PATCH",
    "/work_pools/{name}/queues/{queue_name}",
    scope="admin",
    body=WorkQueueUpdate,
    response=WorkQueue,
)
async def update_work_queue(
    request: Request, name: str, queue_name: str, body: WorkQueueUpdate
) -> WorkQueue:
    """Pause or resume a queue, change its priority or concurrency limit."""
    changes = changes_of(body)
    async with db(request).begin() as conn:
        pool = await read_pool(request, conn, name)
        current = await store.work_queue_require(conn, pool.id, name, queue_name)
        await store.work_queue_update(conn, current["id"], changes)
        if "priority" in changes:
            await queue.flow_run_reprioritise(conn, current["id"], changes["priority"])
        if changes:
            await _queue_changed(conn, "updated", current, pool, changes)
        return to_model(WorkQueue, await store.work_queue_require(conn, pool.id, name, queue_name))


async def _queue_changed(
    conn: AsyncConnection,
    action: Action,
    work_queue: RowMapping,
    pool: WorkPool,
    changes: dict[str, Any] | None = None,
) -> None:
    await resource_changed(
        conn,
        "work-queue",
        action,
        work_queue["id"],
        work_queue["name"],
        related=[related_labels("work-pool", pool.id, pool.name)],
        changes=changes,
    )
