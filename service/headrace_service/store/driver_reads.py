"""One-row reads that skip SQLAlchemy's statement layer and run on the driver's connection.

Only for the hottest reads: a run read is what dashboards, CLIs and workers ask most. Building,
caching and executing a `text()` statement and wrapping its result took about a fifth of such a
request's CPU in the API (py-spy under `bench/api_reads.py --load wrk`). The SQL uses psycopg's
`%(name)s` placeholders; a row comes back as a dict with the driver's own types, the same values
a `text()` statement gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection


async def fetch_one(
    conn: AsyncConnection, sql: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The first row of `sql` on `conn`'s driver connection, or None.

    A driver error is raised as SQLAlchemy raises it (`sa_exc.DBAPIError` with the driver's
    error as `orig`), so the API answers it as any other statement's; a broken connection is
    invalidated first, so the pool does not hand it out again."""
    fairy = await conn.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = fairy.driver_connection  # type: ignore[assignment]
    try:
        async with driver.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchone()
    except psycopg.Error as error:
        broken = driver.broken or driver.closed
        if broken:
            await conn.invalidate(error)
        raise sa_exc.DBAPIError.instance(
            sql, params, error, psycopg.Error, connection_invalidated=bool(broken)
        ) from error
