"""Uploaded code bundles: content-addressed tar.gz archives, stored once per sha256."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def bundle_put(conn: AsyncConnection, sha256: str, data: bytes) -> bool:
    """Store the bundle; False when it was stored already (same hash, same bytes)."""
    inserted = await conn.execute(
        text(
            """
            INSERT INTO code_bundle (sha256, data, size) VALUES (:sha256, :data, :size)
            ON CONFLICT (sha256) DO NOTHING
            RETURNING sha256
            """
        ),
        {"sha256": sha256, "data": data, "size": len(data)},
    )
    return inserted.first() is not None


async def bundle_get(conn: AsyncConnection, sha256: str) -> bytes | None:
    row = (
        await conn.execute(
            text("SELECT data FROM code_bundle WHERE sha256 = :sha256"), {"sha256": sha256}
        )
    ).first()
    return bytes(row[0]) if row is not None else None


async def bundle_exists(conn: AsyncConnection, sha256: str) -> bool:
    row = await conn.execute(
        text("SELECT 1 FROM code_bundle WHERE sha256 = :sha256"), {"sha256": sha256}
    )
    return row.first() is not None
