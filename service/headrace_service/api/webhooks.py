"""Inbound webhooks: create (the secret shown once), read, list, update, rotate, delete."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.webhooks import (
    Webhook,
    WebhookCreate,
    WebhookQuery,
    WebhookUpdate,
    WebhookWithSecret,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.automations.templates import syntax_problem
from headrace_service.errors import ConflictError, InvalidInput, NotFoundError
from headrace_service.store import webhooks as store
from headrace_service.webhook_secrets import hash_secret, new_secret, new_slug

router = Router("webhooks")


def _check_template(template: str | None) -> None:
    problem = syntax_problem(template) if template is not None else None
    if problem:
        raise InvalidInput(f"body.template: {problem}")


@router.route(
    "POST", "/webhooks", scope="admin", body=WebhookCreate, response=WebhookWithSecret, status=201
)
async def create_webhook(request: Request, body: WebhookCreate) -> WebhookWithSecret:
    """Create a webhook; the answer holds its secret, which is never shown again."""
    _check_template(body.template)
    secret = new_secret()
    async with db(request).begin() as conn:
        row = await store.webhook_create(
            conn,
            name=body.name,
            slug=new_slug(),
            secret_hash=hash_secret(secret),
            template=body.template,
            description=body.description,
            enabled=body.enabled,
        )
    if row is None:
        raise ConflictError(f"webhook {body.name!r} already exists")
    return WebhookWithSecret.model_validate({**row, "secret": secret})


@router.route("GET", "/webhooks", query=WebhookQuery, response=list[Webhook])
async def list_webhooks(request: Request, query: WebhookQuery) -> list[Webhook]:
    """Webhooks by name, with their counts of requests."""
    async with db(request).begin() as conn:
        rows = await store.webhook_list(conn, query.limit, query.offset)
    return [to_model(Webhook, r) for r in rows]


@router.route("GET", "/webhooks/{webhook}", response=Webhook)
async def read_webhook(request: Request, webhook: str) -> Webhook:
    """One webhook, by name or id (never its secret)."""
    async with db(request).begin() as conn:
        return to_model(Webhook, await _require(conn, webhook))


@router.route("PATCH", "/webhooks/{webhook}", scope="admin", body=WebhookUpdate, response=Webhook)
async def update_webhook(request: Request, webhook: str, body: WebhookUpdate) -> Webhook:
    """Change the template or description; `enabled: false` disables it."""
    changes = changes_of(body)
    _check_template(changes.get("template"))
    async with db(request).begin() as conn:
        current = await _require(conn, webhook)
        return to_model(Webhook, await store.webhook_update(conn, current["id"], changes))


@router.route("POST", "/webhooks/{webhook}/rotate", scope="admin", response=WebhookWithSecret)
async def rotate_webhook(request: Request, webhook: str) -> WebhookWithSecret:
    """A new secret (shown this once); the old one stops working at once."""
    secret = new_secret()
    async with db(request).begin() as conn:
        current = await _require(conn, webhook)
        row = await store.webhook_update(conn, current["id"], {"secret_hash": hash_secret(secret)})
    return WebhookWithSecret.model_validate({**row, "secret": secret})


@router.route("DELETE", "/webhooks/{webhook}", scope="admin", status=204)
async def delete_webhook(request: Request, webhook: str) -> Response:
    """Delete a webhook: its URL answers 404 from now on."""
    async with db(request).begin() as conn:
        current = await _require(conn, webhook)
        await store.webhook_delete(conn, current["id"])
    return Response(status_code=204)


async def _require(conn: AsyncConnection, webhook: str) -> RowMapping:
    row = await store.webhook_get(conn, webhook)
    if row is None:
        raise NotFoundError(f"no webhook {webhook!r}; see `headrace webhook ls`")
    return row
