"""API key rows: create, list, revoke, and the one lookup every authenticated request makes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

PUBLIC_COLUMNS = "id, name, scope, expires_at, revoked_at, last_used, created"

# last_used is written at most this often per key, so that a busy worker's requests stay reads.
LAST_USED_RESOLUTION_SECONDS = 60


async def api_key_create(
    conn: AsyncConnection,
    *,
    name: str,
    scope: str,
    key_hash: str,
    expires_in_seconds: int | None,
    now: datetime | None = None,
) -> RowMapping:
    sql = f"""
        INSERT INTO api_key (name, scope, key_hash, expires_at)
        VALUES (:name, :scope, :key_hash,
                coalesce(:now, now()) + make_interval(secs => CAST(:expires AS double precision)))
        RETURNING {PUBLIC_COLUMNS}
    """
    params = {
        "name": name,
        "scope": scope,
        "key_hash": key_hash,
        "expires": expires_in_seconds,
        "now": now,
    }
    return (await conn.execute(text(sql), params)).mappings().one()


async def api_key_list(
    conn: AsyncConnection, *, include_revoked: bool, limit: int, offset: int
) -> list[RowMapping]:
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    sql = f"""
        SELECT {PUBLIC_COLUMNS} FROM api_key {where}
        ORDER BY created DESC, id DESC LIMIT :limit OFFSET :offset
    """
    return list((await conn.execute(text(sql), {"limit": limit, "offset": offset})).mappings())


async def api_key_revoke(
    conn: AsyncConnection, key_id: uuid.UUID, now: datetime | None = None
) -> RowMapping | None:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    sql = f"""
        UPDATE api_key SET revoked_at = coalesce(revoked_at, coalesce(:now, now()))
        WHERE id = :id RETURNING {PUBLIC_COLUMNS}
    """
    return (await conn.execute(text(sql), {"id": key_id, "now": now})).mappings().first()


async def api_key_by_hash(conn: AsyncConnection, key_hash: str) -> RowMapping | None:
    """The key's row by the unique index on key_hash: one index probe per request."""
    sql = f"SELECT {PUBLIC_COLUMNS} FROM api_key WHERE key_hash = :key_hash"
    return (await conn.execute(text(sql), {"key_hash": key_hash})).mappings().first()


async def api_key_touch(
    conn: AsyncConnection, key_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Record a use, unless one was recorded in the last minute (then it writes nothing)."""
    sql = """
        UPDATE api_key SET last_used = coalesce(:now, now())
        WHERE id = :id AND (last_used IS NULL
               OR last_used < coalesce(:now, now()) - make_interval(secs => :resolution))
    """
    params = {"id": key_id, "now": now, "resolution": LAST_USED_RESOLUTION_SECONDS}
    await conn.execute(text(sql), params)
