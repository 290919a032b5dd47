"""Inbound webhooks: `POST /hooks/{slug}` with the webhook's secret becomes an event, made by a
jinja2 template from the request (`body`, `headers`, `query`, `raw_body`, `method`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from headrace.schemas.common import Model, ReadModel, ResourceName

MAX_TEMPLATE = 20_000
# The header a sender puts the secret in (or `Authorization: Bearer <secret>`).
SECRET_HEADER = "X-Headrace-Webhook-Secret"

WebhookTemplate = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEMPLATE)]


class WebhookCreate(Model):
    name: ResourceName
    template: WebhookTemplate = Field(
        description="A jinja2 template rendering the event as JSON: "
        '{"event": ..., "resource": {"headrace.resource.id": ...}, "payload": ...}.'
    )
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    enabled: bool = True


class WebhookUpdate(Model):
    template: WebhookTemplate | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    enabled: bool | None = None


class Webhook(ReadModel):
    id: uuid.UUID
    name: str
    slug: str
    path: str  # POST here (under the server's URL)
    template: str
    description: str = ""
    enabled: bool
    received: int = 0  # requests turned into events
    rejected: int = 0  # requests refused for a missing or wrong secret
    last_received: datetime | None = None
    created: datetime
    updated: datetime


class WebhookWithSecret(Webhook):
    """What creating or rotating answers: the secret, shown this once (stored hashed)."""

    secret: str


class WebhookQuery(ReadModel):
    limit: int = Field(default=200, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class WebhookAccepted(ReadModel):
    event_id: uuid.UUID
    event: str
