"""API keys: create (the key is in the answer, once), list, revoke. Admin only."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyQuery
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.auth import create_api_key
from headrace_service.errors import NotFoundError
from headrace_service.store import api_keys as store
from headrace_service.validation import parse_uuid

router = Router("api_keys")


@router.route(
    "POST", "/api_keys", scope="admin", body=ApiKeyCreate, response=ApiKeyCreated, status=201
)
async def create_api_key_endpoint(request: Request, body: ApiKeyCreate) -> ApiKeyCreated:
    """Create an API key; the answer holds the key, which is stored only as a hash."""
    async with db(request).begin() as conn:
        row, key = await create_api_key(
            conn, name=body.name, scope=body.scope, expires_in_seconds=body.expires_in_seconds
        )
    return ApiKeyCreated.model_validate({**row, "key": key})


@router.route("GET", "/api_keys", scope="admin", query=ApiKeyQuery, response=ApiKeyList)
async def list_api_keys(request: Request, query: ApiKeyQuery) -> ApiKeyList:
    """List API keys, newest first (never the keys themselves)."""
    async with db(request).begin() as conn:
        rows = await store.api_key_list(
            conn, include_revoked=query.include_revoked, limit=query.limit, offset=query.offset
        )
    return ApiKeyList(
        items=[to_model(ApiKey, r) for r in rows], limit=query.limit, offset=query.offset
    )


@router.route("DELETE", "/api_keys/{key_id}", scope="admin", response=ApiKey)
async def revoke_api_key(request: Request, key_id: str) -> ApiKey:
    """Revoke an API key: it stops working at once, on every API replica."""
    kid = parse_uuid(key_id, "API key")
    async with db(request).begin() as conn:
        row = await store.api_key_revoke(conn, kid)
    if row is None:
        raise NotFoundError(f"API key {key_id} not found")
    return to_model(ApiKey, row)
