"""Blocks: the saved blocks and their types, one block's values (secrets masked, always), and
create/edit forms generated from the type's JSON schema (secret fields write-only)."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.secrets import SECRET_MASK
from headrace_service.app_state import request_database, request_state
from headrace_service.blocks import document_model
from headrace_service.dashboard.run_form import FormField, form_fields
from headrace_service.dashboard.templating import not_found, render
from headrace_service.store import blocks as store


async def blocks_page(request: Request) -> Response:
    cipher = request_state(request)["block_cipher"]
    async with request_database(request).begin() as conn:
        types = await store.block_type_list(conn)
        rows = await store.block_document_list(conn, None)
    documents = [document_model(r, cipher, reveal=False) for r in rows]
    return render("blocks.html", title="Blocks", nav="blocks", types=types, documents=documents)


async def block_new_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    async with request_database(request).begin() as conn:
        block_type = await store.block_type_get(conn, slug)
    if block_type is None:
        return not_found(f"no block type {slug!r}")
    return render(
        "block.html",
        title=f"New {block_type['name']} block",
        nav="blocks",
        block_type=block_type,
        document=None,
        fields=_fields(block_type["json_schema"], {}),
    )


async def block_page(request: Request) -> Response:
    slug, name = request.path_params["slug"], request.path_params["name"]
    async with request_database(request).begin() as conn:
        block_type = await store.block_type_get(conn, slug)
        row = await store.block_document_get(conn, slug, name)
    if block_type is None or row is None:
        return not_found(f"no {slug} block named {name!r}")
    document = document_model(row, request_state(request)["block_cipher"], reveal=False)
    return render(
        "block.html",
        title=f"{slug}/{name}",
        nav="blocks",
        block_type=block_type,
        document=document,
        fields=_fields(block_type["json_schema"], document.data),
    )


def _fields(schema: dict[str, object], values: dict[str, object]) -> list[FormField]:
    """The form's fields; a secret one is read back as text (never parsed as JSON), and a
    masked value is never offered as a default."""
    shown = {k: v for k, v in values.items() if v != SECRET_MASK}
    fields = form_fields(schema, shown)
    return [
        replace(f, kind="secret", required=f.required and f.name not in values)
        if f.input_type == "password"
        else f
        for f in fields
    ]
