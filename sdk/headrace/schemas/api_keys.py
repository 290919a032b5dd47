"""API keys: who may call the API, and with which scope."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from headrace.schemas.common import Model, Name, ReadModel

# Longest lifetime a key may be given at creation: ten years, so a typo cannot overflow a date.
MAX_EXPIRES_IN_SECONDS = 10 * 366 * 24 * 3600


class Scope(StrEnum):
    """What a key may do; each scope includes the ones before it."""

    READ = "read"
    WORKER = "worker"
    ADMIN = "admin"


class ApiKeyCreate(Model):
    name: Name
    scope: Scope
    expires_in_seconds: int | None = Field(default=None, ge=60, le=MAX_EXPIRES_IN_SECONDS)


class ApiKey(ReadModel):
    """A key as listed: never the key itself, which only its creator sees, once."""

    id: uuid.UUID
    name: str
    scope: Scope
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used: datetime | None = None
    created: datetime


class ApiKeyCreated(ApiKey):
    key: str


class ApiKeyList(ReadModel):
    items: list[ApiKey]
    limit: int
    offset: int


class ApiKeyQuery(ReadModel):
    include_revoked: bool = False
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)
