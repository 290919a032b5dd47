"""Whether the database schema is at this server's newest migration, for `GET /api/ready`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import exc as sa_exc

from headrace_service import migrations
from headrace_service.errors import DatabaseUnavailable

# A schema that was current stays so until someone migrates; re-check it this often only.
MIGRATIONS_CHECK_TTL_SECONDS = 30.0


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
