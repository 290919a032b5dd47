"""The Starlette application, built explicitly from its parts."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headrace_service.api import all_routes
from headrace_service.api.openapi import openapi_document
from headrace_service.api.routing import error_response
from headrace_service.app_state import AppState
from headrace_service.block_crypto import load_cipher
from headrace_service.blocks import reencrypt_documents
from headrace_service.dashboard.routes import dashboard_routes
from headrace_service.db import Database, create_engine
from headrace_service.errors import DatabaseUnavailable, ServiceError, Unauthorized
from headrace_service.loops import start_loops, stop_loops
from headrace_service.loops.automations import AutomationLoop
from headrace_service.metrics import RequestMetricsMiddleware, metrics_routes
from headrace_service.metrics_snapshot import SnapshotCache
from headrace_service.migration_check import MigrationCheck
from headrace_service.notifier import Notifier
from headrace_service.queue import FLOW_RUN_CHANNEL, WORK_POOL_CHANNEL
from headrace_service.request_guard import RequestGuardMiddleware, guard_policy
from headrace_service.request_ids import HEADER as REQUEST_ID_HEADER
from headrace_service.request_ids import RequestIdMiddleware, current_request_id
from headrace_service.settings import ServerSettings
from headrace_service.store.events import EVENT_CHANNEL
from headrace_service.store.run_activity import RUN_ACTIVITY_CHANNEL
from headrace_service.web_auth import guard_routes, login_routes
from headrace_service.webhooks import hook_routes

API_PREFIX = "/api"
log = logging.getLogger("headrace.server")


def headrace_version() -> str:
    try:
        return version("headrace")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


def create_app(settings: ServerSettings, database_url: str) -> Starlette:
    api = all_routes()
    document = openapi_document(api, API_PREFIX, headrace_version())

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes: list[BaseRoute] = [r.starlette_route(API_PREFIX) for r in api]
    routes.append(Route(API_PREFIX + "/openapi.json", openapi, methods=["GET"]))
    routes.extend(login_routes())
    routes.extend(hook_routes())  # the webhook's secret is their credential, not an API key
    routes.extend(guard_routes(metrics_routes() + dashboard_routes()))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        def engine(size: int, autocommit: bool = False) -> AsyncEngine:
            return create_engine(
                database_url,
                autocommit=autocommit,
                pool_size=size,
                pool_timeout=settings.db_pool_timeout_seconds,
                pooler=settings.database_pooler,
            )

        def pool(size: int) -> Database:
            return Database(engine(size))

        block_cipher = load_cipher(settings)
        db = Database(
            engine(settings.db_pool_size),
            read_engine=engine(settings.db_read_pool_size, autocommit=True),
        )
        # Heartbeats only: requests that exhaust the main pool cannot make leases expire.
        lease_db = pool(settings.db_lease_pool_size)
        await reencrypt_documents(db, block_cipher)
        listen_url = settings.listen_url(database_url)
        if listen_url is None:
            log.info(
                "LISTEN/NOTIFY off: waiting claims and live pages poll every %gs",
                settings.claim_fallback_poll_seconds,
            )
        notifier = Notifier(
            listen_url or database_url,
            FLOW_RUN_CHANNEL,
            extra_channels=[WORK_POOL_CHANNEL, RUN_ACTIVITY_CHANNEL, EVENT_CHANNEL],
            enabled=listen_url is not None,
        )
        await notifier.start()
        scheduler = start_loops(settings, db)
        automations = AutomationLoop(
            db, notifier, settings.lease_seconds, retention_days=settings.retention_events_days
        )
        automations.start()
        # Everything made so far (modules, models, routes, pools) lives as long as the process:
        # frozen, the garbage collector's full passes no longer walk it. They did, every few
        # log batches, and took half the API's CPU while flows logged at full speed (py-spy).
        gc.freeze()
        try:
            # Starlette hands each request a copy of this as its state (app_state.py).
            yield AppState(
                settings=settings,
                db=db,
                lease_db=lease_db,
                notifier=notifier,
                migration_check=MigrationCheck(database_url),
                metrics_snapshots=SnapshotCache(),
                log_writers=asyncio.Semaphore(max(1, settings.db_pool_size // 2)),
                block_cipher=block_cipher,
            )
        finally:
            await automations.stop()
            stop_loops(scheduler)
            await notifier.stop()
            await db.dispose()
            await lease_db.dispose()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(RequestMetricsMiddleware),
            Middleware(RequestGuardMiddleware, policy=guard_policy(settings)),
        ],
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            DataError: _data_error,
            Exception: _unexpected_error,
        },
    )
    return app


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"Retry-After": "2"} if isinstance(exc, DatabaseUnavailable) else None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(exc.status_code, exc.detail, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail: Any = exc.detail
    if exc.status_code == 404:
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"method {request.method} not allowed on {request.url.path}"
    # 405 carries the Allow header Starlette computed (RFC 9110 requires it).
    return error_response(exc.status_code, str(detail), exc.headers)


async def _data_error(request: Request, exc: Exception) -> Response:
    # PostgreSQL's "data exception" class (22xxx): a value it cannot store, such as a number
    # out of range. A backstop: the models should have refused the value first.
    assert isinstance(exc, DataError)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid value"
    log.warning(
        "value refused by the database on %s %s: %s", request.method, request.url.path, reason
    )
    return error_response(422, f"a value in the request cannot be stored: {reason}")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The stack trace goes to the server's log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    # Sent by Starlette outside every middleware: the request id header is added here.
    request_id = current_request_id.get()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return error_response(500, "internal server error; the server log has the details", headers)
