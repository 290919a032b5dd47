"""Input sent to a flow run (`POST|GET /api/flow_runs/{id}/input`): `send_input` writes it,
`receive_input` reads what came after the last value it saw."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from headrace.schemas.common import Model, Parameters, ReadModel

MAX_INPUT_KEY = 200
MAX_SENDER = 200
MAX_INPUTS_PAGE = 100

# Where a pause's RunInput lives among the run's inputs (as in Prefect): its JSON schema, its
# description (as {"value": text}) and the input given with the resume.
KeysetKey = Literal["description", "response", "schema"]
Keyset = dict[KeysetKey, str]


def keyset_from_base_key(base_key: str) -> Keyset:
    """The three input keys of `base_key`: `<base>-description`, `-response`, `-schema`."""
    return {
        "description": f"{base_key}-description",
        "response": f"{base_key}-response",
        "schema": f"{base_key}-schema",
    }


def pause_base_key(state_name: str, pause_key: str) -> str:
    """The base key of a pause's inputs: `paused-<pause key>` or `suspended-<pause key>`."""
    return f"{state_name.lower()}-{pause_key}"


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
