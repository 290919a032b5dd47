"""Liveness and readiness."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from headrace_service import migrations
from headrace_service.api.deps import db
from headrace_service.api.routing import Router, error_response
from headrace_service.errors import DatabaseUnavailable

router = Router("health")

# A schema that was current stays so until someone migrates; re-check it this often only.
MIGRATIONS_CHECK_TTL_SECONDS = 30.0
SCHEMA_NOT_CURRENT = (
    "not ready: the database schema is not at this server's newest migration; run "
    "`headrace server database upgrade` (a server also migrates when it starts)"
)


@dataclass
class MigrationCheck:
    """Whether the schema is current, asked of Alembic in a thread (it is synchronous and opens
    its own connection). Only a "current" answer is cached, so that a readiness probe polling
    during an upgrade turns ready as soon as the upgrade commits."""

    database_url: str
    current_until: float = 0.0

    async def is_current(self) -> bool:
        if time.monotonic() < self.current_until:
            return True
        try:
            current = await anyio.to_thread.run_sync(migrations.is_current, self.database_url)
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
            raise DatabaseUnavailable() from error
        if current:
            self.current_until = time.monotonic() + MIGRATIONS_CHECK_TTL_SECONDS
        return current


def migration_check(request: Request) -> MigrationCheck:
    check: MigrationCheck | None = getattr(request.app.state, "migration_check", None)
    if check is None:
        check = request.app.state.migration_check = MigrationCheck(request.app.state.database_url)
    return check


@router.route("GET", "/health", scope="public")
async def health(request: Request) -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.route("GET", "/ready", scope="public")
async def ready(request: Request) -> dict[str, Any] | Response:
    """Readiness: the database answers and its schema is current (503 with the reason if not)."""
    async with db(request).begin() as conn:
        await conn.execute(text("SELECT 1"))
    if not await migration_check(request).is_current():
        return error_response(503, SCHEMA_NOT_CURRENT)
    return {"status": "ready"}
