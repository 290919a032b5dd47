"""What the batch loops share: a pass of short transactions, each holding the loop's advisory
lock, so one replica does a pass and no transaction holds many rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sized

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.db import Database


async def locked_batches(
    db: Database,
    lock_key: int,
    batch: Callable[[AsyncConnection], Awaitable[Sized]],
    batch_size: int,
) -> int:
    """Run `batch` in a transaction holding `lock_key` until it returns fewer than
    `batch_size` rows; how many in all (0 when another replica holds the lock)."""
    done = 0
    while True:
        async with db.begin() as conn:
            locked = await conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key}
            )
            if not locked.scalar_one():
                return done
            rows = await batch(conn)
        done += len(rows)
        if len(rows) < batch_size:
            return done
