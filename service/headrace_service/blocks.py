"""Block documents between the API (or dashboard) and the store: checked against their type's
schema, secrets split off and encrypted on the way in, revealed or masked on the way out."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.blocks import BlockDocument, BlockDocumentWrite
from headrace.schemas.secrets import contains_secret, mask_secret_parameters
from headrace_service.block_crypto import BlockCipher
from headrace_service.db import Database
from headrace_service.errors import ConflictError, InvalidInput
from headrace_service.parameter_schema import check_parameters
from headrace_service.store import blocks as store

log = logging.getLogger("headrace.server")


async def save_document(
    conn: AsyncConnection, cipher: BlockCipher, body: BlockDocumentWrite
) -> uuid.UUID:
    """Store `body`'s values: a 422 naming the field that does not fit the type's schema, a
    409 when the name is taken and not `overwrite`."""
    block_type = await store.block_type_get(conn, body.block_type_slug)
    if block_type is None:
        raise InvalidInput(
            f"body.block_type_slug: no block type {body.block_type_slug!r} is registered "
            "(saving a Block subclass registers its type; see `headrace block type ls`)"
        )
    data = dict(body.data)
    if body.keep_secrets:
        data.update(await _kept_secrets(conn, cipher, body))
    schema: dict[str, Any] = block_type["json_schema"]
    check_parameters(schema, data, where="body.data")
    encrypted = cipher.encrypt(data) if contains_secret(schema) else None
    document_id = await store.block_document_save(
        conn,
        block_type["id"],
        body.name,
        mask_secret_parameters(data, schema),
        encrypted,
        overwrite=body.overwrite,
    )
    if document_id is None:
        raise ConflictError(
            f"a {body.block_type_slug} block named {body.name!r} exists; send overwrite=true "
            "to replace its values"
        )
    return document_id


async def _kept_secrets(
    conn: AsyncConnection, cipher: BlockCipher, body: BlockDocumentWrite
) -> dict[str, Any]:
    stored = await store.block_document_get(conn, body.block_type_slug, body.name)
    clear = (
        cipher.decrypt(stored["encrypted_data"])
        if stored is not None and stored["encrypted_data"] is not None
        else {}
    )
    missing = [name for name in body.keep_secrets if name not in clear]
    if missing:
        raise InvalidInput(
            f"body.keep_secrets: no stored secret {missing[0]!r} to keep in the "
            f"{body.block_type_slug} block {body.name!r}; send its value in body.data"
        )
    return {name: clear[name] for name in body.keep_secrets}


def document_model(row: RowMapping, cipher: BlockCipher, *, reveal: bool) -> BlockDocument:
    """The document as a reader sees it: secrets in clear only when `reveal`."""
    encrypted = row["encrypted_data"]
    data = cipher.decrypt(encrypted) if reveal and encrypted is not None else row["data"]
    return BlockDocument.model_validate(
        {**row, "data": data, "secrets_masked": encrypted is not None and not reveal}
    )


async def reencrypt_documents(db: Database, cipher: BlockCipher) -> int:
    """Re-encrypt every stored secret with the first key (after a key was added in front)."""
    if not cipher.rotating:
        return 0
    async with db.begin() as conn:
        rows = await store.block_document_encrypted(conn)
        for row in rows:
            await store.block_document_set_encrypted(
                conn, row["id"], cipher.rotate(row["encrypted_data"])
            )
    if rows:
        log.info("re-encrypted the secrets of %d block(s) with the first key", len(rows))
    return len(rows)
