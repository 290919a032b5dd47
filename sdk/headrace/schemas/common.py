"""Pieces shared by every resource's models: limits on strings, the base model, states."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from headrace._state_types import DEFAULT_NAMES, StateType
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
MAX_PARAMETERS_BYTES = 1024 * 1024  # the request body cap (max_body_bytes) is the same


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


# Parameters typed SecretStr (JSON schema: writeOnly, format password) are stored as given, so
# runs get them, and shown as this everywhere a person or a read-scoped key reads them.
SECRET_MASK = "**********"


def secret_parameter_names(schema: dict[str, Any] | None) -> set[str]:
    properties = (schema or {}).get("properties") or {}
    return {
        name
        for name, prop in properties.items()
        if isinstance(prop, dict)
        and (prop.get("writeOnly") is True or prop.get("format") == "password")
    }


def mask_secret_parameters(
    parameters: dict[str, Any], schema: dict[str, Any] | None
) -> dict[str, Any]:
    secret = secret_parameter_names(schema)
    if not secret:
        return parameters
    return {k: SECRET_MASK if k in secret and v is not None else v for k, v in parameters.items()}


def masked_parameters(data: Any, info: ValidationInfo) -> Any:
    """A `mode="before"` model validator: mask `parameters` with the row's `parameter_schema`,
    unless validated with context {"reveal_secrets": True} (the engine, with a worker key)."""
    if (
        isinstance(data, Mapping)
        and data.get("parameter_schema")
        and not (info.context or {}).get("reveal_secrets")
    ):
        parameters = data.get("parameters") or {}
        return {**data, "parameters": mask_secret_parameters(parameters, data["parameter_schema"])}
    return data
