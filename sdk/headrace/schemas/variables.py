"""Variables: named JSON values shared by flows, deployments and people."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from headrace.schemas.artifacts import check_json_value
from headrace.schemas.common import Model, ReadModel, ResourceName, Tags

# Prefect's limit on a value (5,000 characters of JSON), in bytes here: a variable is a setting
# read on every `Variable.get`, not a store of documents.
MAX_VARIABLE_BYTES = 5000


def check_variable_value(value: Any) -> Any:
    check_json_value(value, "the variable's value", MAX_VARIABLE_BYTES)
    return value


VariableValue = Annotated[Any, AfterValidator(check_variable_value)]


class VariableCreate(Model):
    name: ResourceName
    value: VariableValue = Field(description="Any JSON value.")
    tags: Tags = Field(default_factory=list)


class VariableSet(Model):
    """The whole of a variable, created or replaced (`PUT /api/variables/{name}`)."""

    value: VariableValue = Field(description="Any JSON value.")
    tags: Tags = Field(default_factory=list)


class VariableUpdate(Model):
    """Change what is given (`PATCH`)."""

    value: VariableValue = None
    tags: Tags | None = None


class Variable(ReadModel):
    id: uuid.UUID
    name: str
    value: Any = None
    tags: list[str] = Field(default_factory=list)
    created: datetime
    updated: datetime


class VariableQuery(ReadModel):
    """Filters of `GET /api/variables`, by name."""

    name_contains: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=200, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
