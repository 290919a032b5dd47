"""Tag concurrency limits: at most `limit` task runs with a tag hold a slot at once."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from headrace.schemas.common import Model, ReadModel, ResourceName, Tag

MAX_LEASE_SECONDS = 3600.0


class ConcurrencyLimitCreate(Model):
    """Create the limit of a tag, or change it if the tag has one."""

    tag: ResourceName
    limit: int = Field(ge=0, le=1_000_000)


class ConcurrencyLimit(ReadModel):
    id: uuid.UUID
    tag: str
    limit: int
    active_slots: int
    created: datetime


class ConcurrencySlot(ReadModel):
    holder_id: uuid.UUID
    lease_expires_at: datetime
    created: datetime


class ConcurrencyLimitDetail(ConcurrencyLimit):
    slots: list[ConcurrencySlot]


class SlotAcquire(Model):
    """Take one slot of every limited tag in `tags` for `holder_id`, all or none."""

    tags: list[Tag] = Field(max_length=50)
    holder_id: uuid.UUID
    lease_seconds: float = Field(default=60.0, gt=0, le=MAX_LEASE_SECONDS)


class SlotAcquireResult(ReadModel):
    acquired: bool
    # The tags whose limit is full (when not acquired).
    blocked_by: list[str] = Field(default_factory=list)


class SlotHolder(Model):
    holder_id: uuid.UUID
    lease_seconds: float = Field(default=60.0, gt=0, le=MAX_LEASE_SECONDS)


class SlotCount(ReadModel):
    count: int
