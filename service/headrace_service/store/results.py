"""Cached task results: put, get (unexpired only), delete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def result_put(
    conn: AsyncConnection, key: str, serializer: str, data: bytes, expires_at: datetime | None
) -> RowMapping:
    """Store a result under `key`, replacing any previous one (a refreshed cache entry)."""
    return (
        (
            await conn.execute(
                text(
                    """
                    INSERT INTO result (key, serializer, data, expires_at)
                    VALUES (:key, :serializer, :data, :expires_at)
                    ON CONFLICT (key) DO UPDATE SET serializer = EXCLUDED.serializer,
                        data = EXCLUDED.data, expires_at = EXCLUDED.expires_at, created = now()
                    RETURNING key, serializer, expires_at, created
                    """
                ),
                {"key": key, "serializer": serializer, "data": data, "expires_at": expires_at},
            )
        )
        .mappings()
        .one()
    )


async def result_get_unexpired(
    conn: AsyncConnection, key: str, now: datetime | None = None
) -> RowMapping | None:
    """The result stored under `key`, unless it has expired."""
    return (
        (
            await conn.execute(
                text(
                    "SELECT * FROM result WHERE key = :key "
                    "AND (expires_at IS NULL OR expires_at > coalesce(:now, now()))"
                ),
                {"key": key, "now": now},
            )
        )
        .mappings()
        .first()
    )


async def result_delete(conn: AsyncConnection, key: str) -> bool:
    deleted = await conn.execute(text("DELETE FROM result WHERE key = :key"), {"key": key})
    return bool(deleted.rowcount)
