"""Pieces shared by every resource's models: limits on strings, the base model, states."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from headrace._state_types import DEFAULT_NAMES, StateType
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Caps on what a client may send, so bad input gets a 422 instead of bloating the database.
MAX_NAME = 200
MAX_TAGS = 50
MAX_MESSAGE = 100_000

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, strip_whitespace=True)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Message = Annotated[str, StringConstraints(max_length=MAX_MESSAGE)]


class Model(BaseModel):
    """Base of every API model: unknown fields are an error, so typos are not silently lost."""

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    """Base of every response model: tolerant of fields added by newer servers."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


class StateCreate(Model):
    """A state a client proposes for a run."""

    type: StateType
    name: Name | None = None
    message: Message | None = None
    timestamp: datetime | None = None
    data: dict[str, Any] | None = None

    def resolved_name(self) -> str:
        return self.name or DEFAULT_NAMES[self.type]


class State(ReadModel):
    """A state as recorded in a run's history."""

    id: uuid.UUID
    type: StateType
    name: str
    message: str | None = None
    timestamp: datetime
    data: dict[str, Any] | None = None


class Page(ReadModel):
    """Paging of a listing: newest first."""

    limit: int
    offset: int
