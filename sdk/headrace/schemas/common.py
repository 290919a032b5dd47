"""Pieces shared by every resource's models: limits on strings, the base model, states."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from headrace._state_types import DEFAULT_NAMES, StateType
from headrace.schemas.limits import MAX_BODY_BYTES
from headrace.schemas.names import MAX_NAME, resource_name_problem

# Caps on what a client may send, so bad input gets a 422 instead of bloating the database.
MAX_TAGS = 50
MAX_MESSAGE = 100_000

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, strip_whitespace=True)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Message = Annotated[str, StringConstraints(max_length=MAX_MESSAGE)]


def check_resource_name(name: str) -> str:
    """The name without surrounding spaces; a `ValueError` saying what to fix when it breaks
    the rule of `resource_name_problem` (the API and the CLI both call this)."""
    name = name.strip()
    problem = resource_name_problem(name)
    if problem is not None:
        raise PydanticCustomError("resource_name", problem)
    return name


# The whole rule is in the validator, so the API's 422 and the CLI's error say the same; the
# JSON schema states it for generated clients and fuzzers.
RESOURCE_NAME_PATTERN = r"^(?!\.\.?$)[^/\x00-\x1f\x7f]+$"
ResourceName = Annotated[
    str,
    AfterValidator(check_resource_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            "pattern": RESOURCE_NAME_PATTERN,
        }
    ),
]

# Run parameters are JSONB on every run: a cap keeps one request from storing megabytes per run,
# and a depth cap keeps recursive code (serialisers, the dashboard) away from its stack limit.
MAX_PARAMETERS_DEPTH = 32
MAX_PARAMETERS_BYTES = MAX_BODY_BYTES  # any body the API accepts can carry its parameters


def walk_json(value: Any) -> Iterator[tuple[Any, int]]:
    """Every value and dict key inside a JSON value, with its depth; iterative, so a deep value
    cannot exhaust the stack."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0)."""
    return max(depth for _, depth in walk_json(value))


def check_parameters(value: dict[str, Any]) -> dict[str, Any]:
    for item, depth in walk_json(value):
        if depth > MAX_PARAMETERS_DEPTH:
            raise ValueError(
                f"parameters nest deeper than the limit of {MAX_PARAMETERS_DEPTH} levels"
            )
        if isinstance(item, str) and "\x00" in item:
            # PostgreSQL's JSONB cannot hold \u0000.
            raise ValueError("parameters cannot contain NUL characters (\\u0000)")
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
    if size > MAX_PARAMETERS_BYTES:
        raise ValueError(
            f"parameters are {size} bytes as JSON, over the limit of {MAX_PARAMETERS_BYTES}"
        )
    return value


Parameters = Annotated[dict[str, Any], AfterValidator(check_parameters)]

# A time a client reports about something that happened (a log line, a task run's states) is
# read from its clock. Outside this window the clock is wrong, or the value is hostile (year
# 9999 at -14:00 is year 10000 in UTC, past what Python can read back): the time the server
# received it replaces it, so the line is kept and sorts near when it really happened.
EARLIEST_REPORTED_TIME = datetime(2000, 1, 1, tzinfo=UTC)
REPORTED_TIME_AHEAD = timedelta(days=1)


def received_if_implausible(value: datetime) -> datetime:
    """`value`, or now when it is before 2000 or more than a day ahead of now."""
    now = datetime.now(UTC)
    try:
        plausible = EARLIEST_REPORTED_TIME <= value.astimezone(UTC) <= now + REPORTED_TIME_AHEAD
    except OverflowError:  # beyond year 9999 or before year 1 once in UTC
        plausible = False
    return value if plausible else now


def check_storable_time(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall between years 1 and 9999 once converted to UTC") from None
    return value


ReportedTime = Annotated[datetime, AfterValidator(received_if_implausible)]
# A time a client asks for (a run's start, a schedule's anchor): any, as long as it can be read
# back.
StorableTime = Annotated[datetime, AfterValidator(check_storable_time)]


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
    timestamp: ReportedTime | None = None
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

    def result(
        self, raise_on_failure: bool = True, *, client: Any = None, serializer: object = None
    ) -> Any:
        """The run's result, read from where it was stored (its folder or URL; the API through
        `client`, a `HeadraceClient`); a failed state raises `FailedRun` unless
        `raise_on_failure=False`. Pickled results are unpickled: read only ones you trust."""
        # Here: schemas load with the client; reading stored results is rarely needed.
        from headrace.exceptions import FailedRun
        from headrace.result_storage import read_stored

        if self.type is not StateType.COMPLETED:
            if raise_on_failure and self.type in (StateType.FAILED, StateType.CRASHED):
                raise FailedRun(self.message or self.name)
            return None
        return read_stored(self.data, client, serializer)


class Page(ReadModel):
    """Paging of a listing: newest first."""

    limit: int
    offset: int
