"""`/block_types` and `/block_documents`: block types (schemas) and the named blocks saved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.blocks import (
    BlockDocument,
    BlockDocumentListQuery,
    BlockDocumentWrite,
    BlockType,
    BlockTypeUpsert,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

TYPES = TypeAdapter(list[BlockType])
DOCUMENTS = TypeAdapter(list[BlockDocument])


def type_path(slug: str) -> str:
    return f"/block_types/{segment(slug)}"


def document_path(slug: str, name: str) -> str:
    return f"/block_documents/{segment(slug)}/{segment(name)}"


def upsert_type(client: HeadraceClient, slug: str, body: BlockTypeUpsert) -> BlockType:
    """Register a block type, or replace its schema."""
    return client.call("PUT", type_path(slug), BlockType, body)


def list_types(client: HeadraceClient, **options: Any) -> list[BlockType]:
    return client.call_list("GET", "/block_types", TYPES, **options)


def read_type(client: HeadraceClient, slug: str) -> BlockType:
    return client.call("GET", type_path(slug), BlockType)


def save(client: HeadraceClient, body: BlockDocumentWrite) -> BlockDocument:
    """Save a block's values under a name (409 when the name is taken and not `overwrite`)."""
    return client.call("POST", "/block_documents", BlockDocument, body)


def list_documents(
    client: HeadraceClient, block_type_slug: str | None = None, **options: Any
) -> list[BlockDocument]:
    query = BlockDocumentListQuery(block_type_slug=block_type_slug)
    return client.call_list("GET", "/block_documents", DOCUMENTS, query=query, **options)


def read(client: HeadraceClient, slug: str, name: str) -> BlockDocument:
    """A block's values: secrets in clear for a worker or admin key, masked for a read key."""
    return client.call("GET", document_path(slug, name), BlockDocument)


def delete(client: HeadraceClient, slug: str, name: str) -> None:
    client.send("DELETE", document_path(slug, name))
