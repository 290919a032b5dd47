"""Work pools (queues with depth, workers with heartbeats), tag and global concurrency limits."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from headrace_service.app_state import request_database, request_state
from headrace_service.dashboard.templating import render
from headrace_service.store.concurrency_limits import concurrency_limit_list
from headrace_service.store.global_concurrency import global_limit_list
from headrace_service.store.work_pools import work_pool_list, work_queue_list, worker_list


async def work_pools_page(request: Request) -> Response:
    heartbeat = request_state(request)["settings"].heartbeat_seconds
    async with request_database(request).begin() as conn:
        pools = await work_pool_list(conn, heartbeat_seconds=heartbeat)
        queues = {p["id"]: await work_queue_list(conn, p["id"]) for p in pools}
        workers = {
            p["id"]: await worker_list(conn, p["id"], heartbeat_seconds=heartbeat) for p in pools
        }
    return render(
        "work_pools.html",
        title="Work pools",
        nav="pools",
        pools=pools,
        queues=queues,
        workers=workers,
    )


async def concurrency_page(request: Request) -> Response:
    async with request_database(request).begin() as conn:
        limits = await concurrency_limit_list(conn)
        global_limits = await global_limit_list(conn)
    return render(
        "concurrency.html",
        title="Concurrency limits",
        nav="limits",
        limits=limits,
        global_limits=global_limits,
    )
