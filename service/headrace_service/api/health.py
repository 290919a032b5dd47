"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.requests import Request

from headrace_service.api.deps import db
from headrace_service.api.routing import Router

router = Router("health")


@router.route("GET", "/health", scope="public")
async def health(request: Request) -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.route("GET", "/ready", scope="public")
async def ready(request: Request) -> dict[str, Any]:
    """Readiness: the database answers."""
    async with db(request).begin() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ready"}
