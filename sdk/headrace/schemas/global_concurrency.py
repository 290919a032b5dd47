"""Global concurrency and rate limits: named limits that any code takes slots of, with
`concurrency(...)` (held while a block runs, leased) or `rate_limit(...)` (given back by decay)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from headrace.schemas.common import Model, ReadModel, ResourceName

MAX_LIMIT = 1_000_000
MAX_LEASE_SECONDS = 86_400.0
MAX_DECAY = 1_000_000.0
MAX_NAMES = 50


class GlobalLimitCreate(Model):
    name: ResourceName
    limit: int = Field(ge=0, le=MAX_LIMIT)
    active: bool = True
    slot_decay_per_second: float = Field(default=0.0, ge=0, le=MAX_DECAY)


class GlobalLimitUpdate(Model):
    """The fields to change; the others keep their value."""

    limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    active: bool | None = None
    slot_decay_per_second: float | None = Field(default=None, ge=0, le=MAX_DECAY)


class GlobalLimit(ReadModel):
    id: uuid.UUID
    name: str
    limit: int
    active: bool
    slot_decay_per_second: float
    # Slots taken now (leased by `concurrency`, or not yet decayed after `rate_limit`).
    active_slots: int
    # Holders waiting for a slot, served first come, first served.
    waiting: int
    created: datetime
    updated: datetime


class GlobalSlot(ReadModel):
    holder_id: uuid.UUID
    occupy: int
    expires_at: datetime
    created: datetime


class GlobalLimitDetail(GlobalLimit):
    slots: list[GlobalSlot]


class GlobalSlotAcquire(Model):
    """Take `occupy` slots of every named limit for `holder_id`, all or none. A holder that
    is refused joins the queue of each full limit: ask again with the same `holder_id` (at
    least every few seconds) to keep its place."""

    names: list[ResourceName] = Field(min_length=1, max_length=MAX_NAMES)
    occupy: int = Field(default=1, ge=1, le=MAX_LIMIT)
    holder_id: uuid.UUID
    mode: Literal["concurrency", "rate_limit"] = "concurrency"
    lease_seconds: float = Field(default=300.0, gt=0, le=MAX_LEASE_SECONDS)
    # True on a holder's first ask: it cannot be in line yet, so the server skips looking for
    # its place (one statement fewer). Sending it wrongly only costs that shortcut: the take
    # itself still honours a place in line.
    first_ask: bool = False


class GlobalSlotAcquireResult(ReadModel):
    acquired: bool
    # The limits that exist (and are enabled): with none, there was nothing to take.
    limits: list[str] = Field(default_factory=list)
    # When not acquired: the limits that are full, or have holders waiting before this one.
    blocked_by: list[str] = Field(default_factory=list)
    # When not acquired: holders queued before this one (on the limit with the longest line).
    waiting_ahead: int = 0


class GlobalSlotHolder(Model):
    holder_id: uuid.UUID
    lease_seconds: float = Field(default=300.0, gt=0, le=MAX_LEASE_SECONDS)


class GlobalSlotCount(ReadModel):
    count: int
