"""Variables: named JSON values, one row each."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.variables import VariableQuery

_COLUMNS = "id, name, value, tags, created, updated"


async def variable_create(
    conn: AsyncConnection, name: str, value: Any, tags: list[str]
) -> RowMapping | None:
    """Insert a new variable; None when the name is taken."""
    rows = await conn.execute(
        text(
            f"""
            INSERT INTO variable (name, value, tags) VALUES (:name, CAST(:value AS jsonb), :tags)
            ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}
            """
        ),
        {"name": name, "value": json.dumps(value), "tags": tags},
    )
    return rows.mappings().first()


async def variable_upsert(
    conn: AsyncConnection, name: str, value: Any, tags: list[str]
) -> RowMapping:
    """Create the variable, or replace its value and tags."""
    rows = await conn.execute(
        text(
            f"""
            INSERT INTO variable (name, value, tags) VALUES (:name, CAST(:value AS jsonb), :tags)
            ON CONFLICT (name) DO UPDATE
                SET value = EXCLUDED.value, tags = EXCLUDED.tags, updated = now()
            RETURNING {_COLUMNS}
            """
        ),
        {"name": name, "value": json.dumps(value), "tags": tags},
    )
    return rows.mappings().one()


async def variable_update(
    conn: AsyncConnection, name: str, changes: dict[str, Any]
) -> RowMapping | None:
    """Change the value and/or the tags given in `changes`."""
    rows = await conn.execute(
        text(
            f"""
            UPDATE variable SET
                value = CASE WHEN :set_value THEN CAST(:value AS jsonb) ELSE value END,
                tags = coalesce(CAST(:tags AS text[]), tags), updated = now()
            WHERE name = :name RETURNING {_COLUMNS}
            """
        ),
        {
            "name": name,
            "set_value": "value" in changes,
            "value": json.dumps(changes.get("value")),
            "tags": changes.get("tags"),
        },
    )
    return rows.mappings().first()


async def variable_get(conn: AsyncConnection, name: str) -> RowMapping | None:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM variable WHERE name = :name"), {"name": name}
    )
    return rows.mappings().first()


async def variable_values(conn: AsyncConnection, names: list[str]) -> dict[str, Any]:
    """The values of those of `names` that exist."""
    rows = await conn.execute(
        text("SELECT name, value FROM variable WHERE name = ANY(:names)"), {"names": names}
    )
    return {name: value for name, value in rows}


async def variable_list(conn: AsyncConnection, query: VariableQuery) -> list[RowMapping]:
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
    if query.name_contains:
        where.append("strpos(name, :contains) > 0")
        params["contains"] = query.name_contains
    if query.tag:
        where.append(":tag = ANY(tags)")
        params["tag"] = query.tag
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM variable WHERE {' AND '.join(where)} "
            "ORDER BY name LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    return list(rows.mappings())


async def variable_delete(conn: AsyncConnection, name: str) -> bool:
    deleted = await conn.execute(text("DELETE FROM variable WHERE name = :name"), {"name": name})
    return bool(deleted.rowcount)
