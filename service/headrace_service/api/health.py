"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from headrace_service.api.deps import db
from headrace_service.api.routing import Router, error_response
from headrace_service.app_state import request_state

router = Router("health")

SCHEMA_NOT_CURRENT = (
    "not ready: the database schema is not at this server's newest migration; run "
    "`headrace server database upgrade` (a server also migrates when it starts)"
)


@router.route("GET", "/health", scope="public")
async def health(request: Request) -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.route("GET", "/ready", scope="public")
async def ready(request: Request) -> dict[str, Any] | Response:
    """Readiness: the database answers and its schema is current (503 with the reason if not)."""
    async with db(request).begin() as conn:
        await conn.execute(text("SELECT 1"))
    if not await request_state(request)["migration_check"].is_current():
        return error_response(503, SCHEMA_NOT_CURRENT)
    return {"status": "ready"}
