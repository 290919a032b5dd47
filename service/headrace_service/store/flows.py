"""Flows: create-or-get by name."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def flow_get_or_create(conn: AsyncConnection, name: str) -> RowMapping:
    """The flow called `name`, created if new (race-free: the unique index decides)."""
    row = (
        (
            await conn.execute(
                text(
                    "INSERT INTO flow (name) VALUES (:name) "
                    "ON CONFLICT (name) DO NOTHING RETURNING *"
                ),
                {"name": name},
            )
        )
        .mappings()
        .first()
    )
    if row is not None:
        return row
    return (
        (await conn.execute(text("SELECT * FROM flow WHERE name = :name"), {"name": name}))
        .mappings()
        .one()
    )


async def flow_get(conn: AsyncConnection, key: str, *, by: str) -> RowMapping | None:
    column = "id" if by == "id" else "name"
    return (
        (await conn.execute(text(f"SELECT * FROM flow WHERE {column} = :key"), {"key": key}))
        .mappings()
        .first()
    )
