"""Inbound webhooks: `POST /hooks/{slug}` with the webhook's secret becomes one event.

The secret is the only credential (no API key: senders are other services), checked in constant
time against its SHA-256; a missing or wrong one is a 401, counted on the webhook, and nothing
else happens. The route sits outside /api but behind the same request guard (request_guard.py):
a page of another site gets a 403 before the secret is even looked at, and a browser cannot send
the secret header cross-site without a CORS preflight, which this server never answers.

The webhook's template (jinja2, sandboxed) sees `body` (JSON parsed, a form as a dict, else
text), `raw_body`, `headers` (lower-case names, the secret left out), `query` and `method`, and
renders the event as JSON.
"""

from __future__ import annotations

import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headrace.schemas.events import RESOURCE_ID, RESOURCE_NAME, RESOURCE_ROLE, EventCreate
from headrace.schemas.webhooks import SECRET_HEADER
from headrace_service.api.routing import describe_validation_error, error_response, read_body
from headrace_service.app_state import request_database
from headrace_service.automations.templates import TemplateFailed, render
from headrace_service.store import webhooks as store
from headrace_service.store.events import events_insert
from headrace_service.webhook_secrets import hash_secret

MAX_HOOK_BODY = 1_000_000
MAX_SECRET = 200
HIDDEN_HEADERS = frozenset({SECRET_HEADER.lower(), "authorization", "cookie"})


def sent_secret(request: Request) -> str:
    value = request.headers.get(SECRET_HEADER, "")
    if not value:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        value = token.strip() if scheme.lower() == "bearer" else ""
    return value[:MAX_SECRET]


def parsed_body(content_type: str, raw: str) -> Any:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw, keep_blank_values=True))
    return raw


def template_context(request: Request, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS}
    return {
        "body": parsed_body(request.headers.get("content-type", ""), text),
        "raw_body": text,
        "headers": headers,
        "query": dict(request.query_params),
        "method": request.method,
    }


def event_from(template: str, context: dict[str, Any], webhook: Any) -> EventCreate:
    """The event the template makes; ValueError saying what is wrong with it."""
    try:
        rendered = render(template, context)
    except TemplateFailed as error:
        raise ValueError(str(error)) from None
    try:
        data = json.loads(rendered)
    except ValueError as error:
        raise ValueError(
            f"the template did not render JSON ({error}): {rendered[:200]!r}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError("the template must render a JSON object (the event)")
    data.setdefault("related", [])
    if isinstance(data["related"], list):
        data["related"].append(
            {
                RESOURCE_ID: f"headrace.webhook.{webhook['id']}",
                RESOURCE_NAME: webhook["name"],
                RESOURCE_ROLE: "webhook",
            }
        )
    data.pop("id", None)
    data.pop("occurred", None)
    try:
        return EventCreate.model_validate(data)
    except ValidationError as error:
        raise ValueError(describe_validation_error(error, "event")) from None


async def receive(request: Request) -> Response:
    slug = request.path_params["slug"]
    database = request_database(request)
    async with database.begin() as conn:
        webhook = await store.webhook_by_slug(conn, slug[:100])
        if webhook is None:
            return error_response(404, "no webhook at this URL")
        secret = sent_secret(request)
        if not secret or not hmac.compare_digest(hash_secret(secret), webhook["secret_hash"]):
            await store.webhook_count(conn, webhook["id"], accepted=False)
            return error_response(
                401,
                f"a webhook request needs its secret in the {SECRET_HEADER} header "
                "(or Authorization: Bearer)",
                {"WWW-Authenticate": "Bearer"},
            )
    if not webhook["enabled"]:
        return error_response(409, f"webhook {webhook['name']!r} is disabled")
    raw = await read_body(request, MAX_HOOK_BODY, f"body over the limit of {MAX_HOOK_BODY} bytes")
    try:
        event = event_from(webhook["template"], template_context(request, raw), webhook)
    except ValueError as error:
        return error_response(422, f"webhook {webhook['name']!r}: {error}")
    event = event.model_copy(update={"id": uuid.uuid4()})
    async with database.begin() as conn:
        await events_insert(conn, [event], datetime.now(UTC))
        await store.webhook_count(conn, webhook["id"], accepted=True)
    return JSONResponse({"event_id": str(event.id), "event": event.event}, status_code=202)


def hook_routes() -> list[BaseRoute]:
    return [Route("/hooks/{slug}", receive, methods=["POST"])]
