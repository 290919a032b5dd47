"""`/webhooks`: inbound webhooks that turn HTTP requests into events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.webhooks import (
    Webhook,
    WebhookCreate,
    WebhookQuery,
    WebhookUpdate,
    WebhookWithSecret,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

WEBHOOKS = TypeAdapter(list[Webhook])


def path(name_or_id: str) -> str:
    return f"/webhooks/{segment(name_or_id)}"


def create(client: HeadraceClient, body: WebhookCreate) -> WebhookWithSecret:
    """Create a webhook; the answer holds its secret, shown this once."""
    return client.call("POST", "/webhooks", WebhookWithSecret, body)


def read(client: HeadraceClient, name_or_id: str) -> Webhook:
    return client.call("GET", path(name_or_id), Webhook)


def list_webhooks(client: HeadraceClient, query: WebhookQuery) -> list[Webhook]:
    return client.call_list("GET", "/webhooks", WEBHOOKS, query=query)


def update(client: HeadraceClient, name_or_id: str, body: WebhookUpdate) -> Webhook:
    return client.call("PATCH", path(name_or_id), Webhook, body, patch=True)


def rotate(client: HeadraceClient, name_or_id: str) -> WebhookWithSecret:
    return client.call("POST", path(name_or_id) + "/rotate", WebhookWithSecret)


def delete(client: HeadraceClient, name_or_id: str) -> None:
    client.send("DELETE", path(name_or_id))
