"""The database: an async SQLAlchemy engine over psycopg 3, and URL normalisation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
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
    url: str,
    *,
    pool_size: int,
    pool_timeout: float,
    pooler: Pooler = "none",
    autocommit: bool = False,
) -> AsyncEngine:
    """With `autocommit`, every connection is made without transactions once, when it is
    opened (for `Database.read`'s own pool: switching a pooled connection there and back on
    each checkout took 7 % of a run read's CPU)."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        connect_args=connect_args(pooler),
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    event.listen(engine.sync_engine, "connect", tolerate_extreme_times)
    ping_idle_connections(engine)
    return engine


# A pooled connection unused for this long is pinged before it is handed out. SQLAlchemy's
# pre-ping pings on every checkout: a round trip that cost a read request a fifth of its CPU. A
# connection in steady use proves itself; one broken mid-use fails its request (a 503 that
# clients retry) and the pool then replaces every connection made before the failure.
PING_IDLE_AFTER_SECONDS = 2.0


def ping_idle_connections(engine: AsyncEngine) -> None:
    dialect = engine.dialect

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER_SECONDS:
            return  # a new connection, or one in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool replaces it (and every older one) and tries the checkout again.
                raise sa_exc.InvalidatePoolError(str(error)) from error
            raise

    event.listen(engine.sync_engine.pool, "checkin", on_checkin)
    event.listen(engine.sync_engine.pool, "checkout", on_checkout)


class Database:
    """The engine plus the two ways the API uses it: a transaction and a read."""

    def __init__(self, engine: AsyncEngine, *, read_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        # A small pool of its own for `read()`, made with `autocommit`: a read never waits for
        # a connection behind the writes (log batches hold up to half the main pool, and the
        # other half can be busy too while flows log at full speed).
        self.read_engine = read_engine or engine

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction; driver and pool errors become a 503, never a 500."""
        with _unavailable_as_503():
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection without a transaction, for one read statement: no BEGIN and COMMIT
        round trips. Two statements on it may see two different moments: use `begin()`."""
        with _unavailable_as_503():
            async with self.read_engine.connect() as conn:
                if self.read_engine is self.engine:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    """Driver and pool errors that say the database cannot be reached become a 503."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
        if (
            isinstance(exc, sa_exc.DBAPIError)
            and not exc.connection_invalidated
            and not (_is_connection_error(exc))
        ):
            raise
        raise DatabaseUnavailable() from exc


def _is_connection_error(exc: sa_exc.DBAPIError) -> bool:
    import psycopg

    orig = exc.orig
    return isinstance(orig, psycopg.OperationalError) and not isinstance(
        orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    )
