"""The database: an async SQLAlchemy engine over psycopg 3, and URL normalisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from headrace_service.errors import DatabaseUnavailable
from headrace_service.extreme_times import tolerate_extreme_times


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgres URLs from users; SQLAlchemy needs the psycopg driver named."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r} (expected postgresql://user@host:5432/db)")


def libpq_url(url: str) -> str:
    """The same URL for psycopg itself (LISTEN connection)."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]


Pooler = Literal["none", "session", "transaction"]


def connect_args(pooler: Pooler) -> dict[str, Any]:
    """psycopg's connection arguments for what sits between the server and Postgres."""
    if pooler == "none":
        # A transaction left open by a bug must not pin vacuum on the queue table for long.
        # PgBouncer refuses this startup parameter: behind it, set the timeout on the role
        # (docs/deployment-guide.md, PgBouncer).
        return {"options": "-c idle_in_transaction_session_timeout=60000"}
    if pooler == "transaction":
        # psycopg prepares a statement after its 5th execution on a connection; behind a
        # transaction-mode pooler the next transaction may run on another server connection,
        # where that statement does not exist (or another client's has the same name).
        return {"prepare_threshold": None}
    return {}


def create_engine(
    url: str, *, pool_size: int, pool_timeout: float, pooler: Pooler = "none"
) -> AsyncEngine:
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        connect_args=connect_args(pooler),
    )
    event.listen(engine.sync_engine, "connect", tolerate_extreme_times)
    return engine


class Database:
    """The engine plus the two ways the API uses it: a transaction and a read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction; driver and pool errors become a 503, never a 500."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            if (
                isinstance(exc, sa_exc.DBAPIError)
                and not exc.connection_invalidated
                and not (_is_connection_error(exc))
            ):
                raise
            raise DatabaseUnavailable() from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _is_connection_error(exc: sa_exc.DBAPIError) -> bool:
    import psycopg

    orig = exc.orig
    return isinstance(orig, psycopg.OperationalError) and not isinstance(
        orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    )
