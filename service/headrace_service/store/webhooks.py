"""Inbound webhooks: definitions, hashed secrets and the counts of requests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

_COLUMNS = (
    "id, name, slug, '/hooks/' || slug AS path, template, description, enabled, received, "
    "rejected, last_received, created, updated"
)


async def webhook_create(
    conn: AsyncConnection,
    *,
    name: str,
    slug: str,
    secret_hash: str,
    template: str,
    description: str,
    enabled: bool,
) -> RowMapping | None:
    """Insert a webhook; None when the name is taken."""
    rows = await conn.execute(
        text(
            f"""
            INSERT INTO webhook (name, slug, secret_hash, template, description, enabled)
            VALUES (:name, :slug, :secret_hash, :template, :description, :enabled)
            ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}
            """
        ),
        {
            "name": name,
            "slug": slug,
            "secret_hash": secret_hash,
            "template": template,
            "description": description,
            "enabled": enabled,
        },
    )
    return rows.mappings().first()


async def webhook_get(conn: AsyncConnection, name_or_id: str) -> RowMapping | None:
    try:
        key: Any = uuid.UUID(name_or_id)
        where = "id = :key"
    except ValueError:
        key, where = name_or_id, "name = :key"
    rows = await conn.execute(text(f"SELECT {_COLUMNS} FROM webhook WHERE {where}"), {"key": key})
    return rows.mappings().first()


async def webhook_list(conn: AsyncConnection, limit: int, offset: int) -> list[RowMapping]:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM webhook ORDER BY name LIMIT :limit OFFSET :offset"),
        {"limit": limit, "offset": offset},
    )
    return list(rows.mappings())


async def webhook_update(
    conn: AsyncConnection, webhook_id: uuid.UUID, changes: dict[str, Any]
) -> RowMapping:
    """Change the template, description, enabled flag or secret hash that `changes` gives."""
    sets = ["updated = now()"]
    for column in ("template", "description", "enabled", "secret_hash"):
        if column in changes:
            sets.append(f"{column} = :{column}")
    rows = await conn.execute(
        text(f"UPDATE webhook SET {', '.join(sets)} WHERE id = :id RETURNING {_COLUMNS}"),
        {**changes, "id": webhook_id},
    )
    return rows.mappings().one()


async def webhook_delete(conn: AsyncConnection, webhook_id: uuid.UUID) -> None:
    await conn.execute(text("DELETE FROM webhook WHERE id = :id"), {"id": webhook_id})


async def webhook_by_slug(conn: AsyncConnection, slug: str) -> RowMapping | None:
    rows = await conn.execute(
        text("SELECT id, name, slug, secret_hash, template, enabled FROM webhook WHERE slug = :s"),
        {"s": slug},
    )
    return rows.mappings().first()


async def webhook_count(conn: AsyncConnection, webhook_id: uuid.UUID, *, accepted: bool) -> None:
    """Count a request: turned into an event, or refused for its secret."""
    column = "received" if accepted else "rejected"
    extra = ", last_received = now()" if accepted else ""
    await conn.execute(
        text(f"UPDATE webhook SET {column} = {column} + 1{extra} WHERE id = :id"),
        {"id": webhook_id},
    )
