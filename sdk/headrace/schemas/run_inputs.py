"""Input sent to a flow run (`POST|GET /api/flow_runs/{id}/input`): `send_input` writes it,
`receive_input` reads what came after the last value it saw."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from headrace.schemas.common import Model, Parameters, ReadModel

MAX_INPUT_KEY = 200
MAX_SENDER = 200
MAX_INPUTS_PAGE = 100


class RunInputCreate(Model):
    key: str = Field(min_length=1, max_length=MAX_INPUT_KEY)
    # A RunInput's fields; any other value travels as {"value": ...}.
    value: Parameters
    sender: str | None = Field(default=None, max_length=MAX_SENDER)


class RunInputRead(ReadModel):
    id: uuid.UUID
    flow_run_id: uuid.UUID
    key: str
    value: dict[str, Any]
    sender: str | None = None
    created: datetime


class RunInputQuery(ReadModel):
    """The run's inputs in the order they came, after the input `after` (an id), whose key
    starts with `key_prefix`."""

    key_prefix: str | None = Field(default=None, max_length=MAX_INPUT_KEY)
    after: uuid.UUID | None = None
    limit: int = Field(default=MAX_INPUTS_PAGE, ge=1, le=MAX_INPUTS_PAGE)
