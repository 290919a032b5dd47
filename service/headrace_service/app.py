"""The Starlette application, built explicitly from its parts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headrace_service.api import all_routes
from headrace_service.api.openapi import openapi_document
from headrace_service.api.routing import error_response
from headrace_service.dashboard.routes import dashboard_routes
from headrace_service.db import Database, create_engine
from headrace_service.errors import DatabaseUnavailable, ServiceError
from headrace_service.notifier import Notifier
from headrace_service.queue import FLOW_RUN_CHANNEL
from headrace_service.settings import ServerSettings

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
    routes.extend(dashboard_routes())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        app.state.db = Database(engine)
        app.state.notifier = Notifier(
            database_url, FLOW_RUN_CHANNEL, enabled=settings.listen_notify
        )
        await app.state.notifier.start()
        try:
            yield
        finally:
            await app.state.notifier.stop()
            await app.state.db.dispose()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )
    app.state.settings = settings
    app.state.database_url = database_url
    return app


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"Retry-After": "2"} if isinstance(exc, DatabaseUnavailable) else None
    return error_response(exc.status_code, exc.detail, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail: Any = exc.detail
    if exc.status_code == 404:
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"method {request.method} not allowed on {request.url.path}"
    return error_response(exc.status_code, str(detail))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The stack trace goes to the server's log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error; the server log has the details")
