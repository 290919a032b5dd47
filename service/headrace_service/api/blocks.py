"""Blocks: register block types, save, read, list and delete block documents.

Reading a document returns its secrets in clear to worker and admin keys (and on a server
without auth, like every other read); a read key gets them masked, and a list always masks.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.api_keys import Scope
from headrace.schemas.blocks import (
    BlockDocument,
    BlockDocumentListQuery,
    BlockDocumentWrite,
    BlockType,
    BlockTypeSlugPath,
    BlockTypeUpsert,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.app_state import request_state
from headrace_service.auth import SCOPE_RANK, require_scope
from headrace_service.blocks import document_model, save_document
from headrace_service.errors import InvalidInput, NotFoundError
from headrace_service.parameter_schema import check_schema
from headrace_service.store import blocks as store

router = Router("blocks")


@router.route(
    "PUT", "/block_types/{slug}", scope="worker", body=BlockTypeUpsert, response=BlockType
)
async def upsert_block_type(request: Request, slug: str, body: BlockTypeUpsert) -> BlockType:
    """Register a block type under a slug, or replace its schema."""
    _check_slug(slug)
    check_schema(body.json_schema, where="body.json_schema")
    async with db(request).begin() as conn:
        row = await store.block_type_upsert(
            conn, slug, body.name, body.json_schema, body.description
        )
    return to_model(BlockType, row)


@router.route("GET", "/block_types", response=list[BlockType])
async def list_block_types(request: Request) -> list[BlockType]:
    """Every registered block type with its number of saved blocks."""
    async with db(request).begin() as conn:
        rows = await store.block_type_list(conn)
    return [to_model(BlockType, r) for r in rows]


@router.route("GET", "/block_types/{slug}", response=BlockType)
async def read_block_type(request: Request, slug: str) -> BlockType:
    """A block type and its JSON schema."""
    async with db(request).begin() as conn:
        row = await store.block_type_get(conn, slug)
    if row is None:
        raise NotFoundError(f"no block type {slug!r}")
    return to_model(BlockType, row)


@router.route(
    "POST",
    "/block_documents",
    scope="worker",
    body=BlockDocumentWrite,
    response=BlockDocument,
    status=201,
)
async def save_block_document(request: Request, body: BlockDocumentWrite) -> BlockDocument:
    """Save a block's values under a name (`overwrite` to replace them)."""
    cipher = request_state(request)["block_cipher"]
    async with db(request).begin() as conn:
        await save_document(conn, cipher, body)
        row = await store.block_document_get(conn, body.block_type_slug, body.name)
    assert row is not None
    return document_model(row, cipher, reveal=False)


@router.route("GET", "/block_documents", query=BlockDocumentListQuery, response=list[BlockDocument])
async def list_block_documents(
    request: Request, query: BlockDocumentListQuery
) -> list[BlockDocument]:
    """Saved blocks, optionally of one type; secrets always masked."""
    cipher = request_state(request)["block_cipher"]
    async with db(request).begin() as conn:
        rows = await store.block_document_list(conn, query.block_type_slug)
    return [document_model(r, cipher, reveal=False) for r in rows]


@router.route("GET", "/block_documents/{slug}/{name}", response=BlockDocument)
async def read_block_document(request: Request, slug: str, name: str) -> BlockDocument:
    """A saved block: secrets in clear for worker and admin keys, masked for read keys."""
    principal = await require_scope(request, "read")
    reveal = principal is None or SCOPE_RANK[principal.scope] >= SCOPE_RANK[Scope.WORKER]
    async with db(request).begin() as conn:
        row = await store.block_document_get(conn, slug, name)
    if row is None:
        raise NotFoundError(f"no {slug} block named {name!r}")
    return document_model(row, request_state(request)["block_cipher"], reveal=reveal)


@router.route("DELETE", "/block_documents/{slug}/{name}", scope="worker", status=204)
async def delete_block_document(request: Request, slug: str, name: str) -> Response:
    """Delete a saved block."""
    async with db(request).begin() as conn:
        if not await store.block_document_delete(conn, slug, name):
            raise NotFoundError(f"no {slug} block named {name!r}")
    return Response(status_code=204)


def _check_slug(slug: str) -> None:
    try:
        BlockTypeSlugPath.validate_python(slug)
    except ValueError:
        raise InvalidInput(
            f"slug: {slug[:120]!r} is not a block type slug (lower-case letters, digits and "
            "single dashes, e.g. 'my-block', at most 100 characters)"
        ) from None
