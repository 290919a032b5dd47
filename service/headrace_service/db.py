"""The database: an async SQLAlchemy engine over psycopg 3, and URL normalisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from headrace_service.errors import DatabaseUnavailable


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgres URLs from users; SQLAlchemy needs the psycopg driver named."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r} (expected postgresql://user@host:5432/db)")


def libpq_url(url: str) -> str:
    """The same URL for psycopg itself (LISTEN connection)."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]


def create_engine(url: str, *, pool_size: int, pool_timeout: float) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        # A transaction left open by a bug must not pin vacuum on the queue table for long.
        connect_args={"options": "-c idle_in_transaction_session_timeout=60000"},
    )


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
