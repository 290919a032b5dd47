"""Block types and block documents (their secrets arrive here already encrypted)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

_DOCUMENT = """
    SELECT d.id, d.name, d.data, d.encrypted_data, d.created, d.updated,
        t.slug AS block_type_slug, t.name AS block_type_name, t.json_schema
    FROM block_document d JOIN block_type t ON t.id = d.block_type_id
"""


async def block_type_upsert(
    conn: AsyncConnection, slug: str, name: str, schema: dict[str, Any], description: str | None
) -> RowMapping:
    """Register a block type, or replace its name, schema and description."""
    row = await conn.execute(
        text(
            """
            INSERT INTO block_type (slug, name, json_schema, description)
            VALUES (:slug, :name, CAST(:schema AS jsonb), :description)
            ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name,
                json_schema = EXCLUDED.json_schema, description = EXCLUDED.description,
                updated = now()
            RETURNING id, slug, name, json_schema, description, created, updated
            """
        ),
        {"slug": slug, "name": name, "schema": json.dumps(schema), "description": description},
    )
    return row.mappings().one()


async def block_type_list(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            "SELECT t.id, t.slug, t.name, t.json_schema, t.description, t.created, t.updated, "
            "(SELECT count(*) FROM block_document d WHERE d.block_type_id = t.id) "
            "AS document_count FROM block_type t ORDER BY t.slug"
        )
    )
    return list(rows.mappings())


async def block_type_get(conn: AsyncConnection, slug: str) -> RowMapping | None:
    rows = await conn.execute(
        text(
            "SELECT id, slug, name, json_schema, description, created, updated "
            "FROM block_type WHERE slug = :slug"
        ),
        {"slug": slug},
    )
    return rows.mappings().first()


async def block_document_get(conn: AsyncConnection, slug: str, name: str) -> RowMapping | None:
    rows = await conn.execute(
        text(_DOCUMENT + " WHERE t.slug = :slug AND d.name = :name"), {"slug": slug, "name": name}
    )
    return rows.mappings().first()


async def block_document_list(conn: AsyncConnection, slug: str | None) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            _DOCUMENT + " WHERE (CAST(:slug AS text) IS NULL OR t.slug = :slug) "
            "ORDER BY t.slug, d.name"
        ),
        {"slug": slug},
    )
    return list(rows.mappings())


async def block_document_save(
    conn: AsyncConnection,
    block_type_id: uuid.UUID,
    name: str,
    data: dict[str, Any],
    encrypted: bytes | None,
    *,
    overwrite: bool,
) -> uuid.UUID | None:
    """Store a block's values under `name`; None when the name is taken and not `overwrite`."""
    conflict = (
        "DO UPDATE SET data = EXCLUDED.data, encrypted_data = EXCLUDED.encrypted_data, "
        "updated = now()"
        if overwrite
        else "DO NOTHING"
    )
    row = await conn.execute(
        text(
            "INSERT INTO block_document (block_type_id, name, data, encrypted_data) "
            "VALUES (:type_id, :name, CAST(:data AS jsonb), :encrypted) "
            f"ON CONFLICT (block_type_id, name) {conflict} RETURNING id"
        ),
        {
            "type_id": block_type_id,
            "name": name,
            "data": json.dumps(data),
            "encrypted": encrypted,
        },
    )
    return row.scalar()


async def block_document_delete(conn: AsyncConnection, slug: str, name: str) -> bool:
    deleted = await conn.execute(
        text(
            "DELETE FROM block_document d USING block_type t "
            "WHERE t.id = d.block_type_id AND t.slug = :slug AND d.name = :name"
        ),
        {"slug": slug, "name": name},
    )
    return bool(deleted.rowcount)


async def block_document_encrypted(conn: AsyncConnection) -> list[RowMapping]:
    """Every document holding encrypted secrets (for re-encryption with a new key)."""
    rows = await conn.execute(
        text("SELECT id, encrypted_data FROM block_document WHERE encrypted_data IS NOT NULL")
    )
    return list(rows.mappings())


async def block_document_set_encrypted(
    conn: AsyncConnection, document_id: uuid.UUID, encrypted: bytes
) -> None:
    await conn.execute(
        text("UPDATE block_document SET encrypted_data = :encrypted WHERE id = :id"),
        {"id": document_id, "encrypted": encrypted},
    )
