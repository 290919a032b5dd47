"""Artifacts: what a run publishes for people to read (a report, a table, a link, progress, an
image), kept under an optional key whose history is kept, latest first."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from headrace.schemas.common import MAX_PARAMETERS_DEPTH, Model, ReadModel, walk_json

ArtifactType = Literal["markdown", "table", "progress", "image"]
ARTIFACT_TYPES: tuple[str, ...] = ("markdown", "table", "progress", "image")

# One artifact's data, as compact JSON: a report of a few hundred kilobytes is fine; a data dump
# belongs in a result or a file, not in a row every dashboard view reads.
MAX_ARTIFACT_BYTES = 512 * 1024
MAX_DESCRIPTION = 5000
MAX_KEY = 200
# Prefect's rule, kept so keys read the same in both: they are shown and linked everywhere.
KEY_PATTERN = re.compile(r"^[a-z0-9-]+$")


def check_key(key: str) -> str:
    if len(key) > MAX_KEY:
        raise ValueError(
            f"an artifact key is at most {MAX_KEY} characters, this one has {len(key)}"
        )
    if not KEY_PATTERN.match(key):
        raise ValueError(
            f"an artifact key may contain only lowercase letters, digits and dashes, got {key!r}"
        )
    return key


ArtifactKey = Annotated[str, AfterValidator(check_key)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]


def check_json_value(value: Any, what: str, max_bytes: int) -> None:
    """A `ValueError` naming `what` when `value` is too deep, holds NUL or is too big."""
    for item, depth in walk_json(value):
        if depth > MAX_PARAMETERS_DEPTH:
            raise ValueError(f"{what} nests deeper than the limit of {MAX_PARAMETERS_DEPTH} levels")
        if isinstance(item, str) and "\x00" in item:
            raise ValueError(f"{what} cannot contain NUL characters (\\u0000)")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{what} cannot contain NaN or infinite numbers (not JSON)")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > max_bytes:
        raise ValueError(f"{what} is {size} bytes as JSON, over the limit of {max_bytes}")


def check_artifact_data(kind: str, data: Any) -> Any:
    """`data` if it fits an artifact of type `kind`, else a `ValueError` saying what to fix."""
    check_json_value(data, "the artifact's data", MAX_ARTIFACT_BYTES)
    if kind == "markdown" and not isinstance(data, str):
        raise ValueError("a markdown artifact's data must be a string of markdown")
    if kind == "image" and not (
        isinstance(data, str) and data.lower().startswith(("https://", "http://"))
    ):
        raise ValueError("an image artifact's data must be an http:// or https:// URL")
    if kind == "progress":
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError("a progress artifact's data must be a number from 0 to 100")
        if not 0 <= data <= 100:
            raise ValueError(f"a progress artifact's data must be from 0 to 100, got {data}")
    if kind == "table" and table_rows(data) is None:
        raise ValueError(
            "a table artifact's data must be a list of dicts, a dict of lists or a list of lists"
        )
    return data


def table_rows(data: Any) -> tuple[list[str], list[list[Any]]] | None:
    """A table's (column names, rows) from any of its three shapes; None if it is none of them.
    A list of lists has no names: its columns are numbered."""
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        columns = [str(c) for c in data]
        length = max((len(v) for v in data.values()), default=0)
        values = list(data.values())
        rows = [[col[i] if i < len(col) else None for col in values] for i in range(length)]
        return columns, rows
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        names: dict[str, None] = {}
        for row in data:
            names.update(dict.fromkeys(str(k) for k in row))
        columns = list(names)
        return columns, [[row.get(c) for c in columns] for row in data]
    if isinstance(data, list) and all(isinstance(r, list) for r in data):
        width = max((len(r) for r in data), default=0)
        return [str(i) for i in range(width)], [r + [None] * (width - len(r)) for r in data]
    return None


class ArtifactCreate(Model):
    """An artifact to store; `flow_run_id` and `task_run_id` say which run made it."""

    key: ArtifactKey | None = None
    type: ArtifactType
    description: Description | None = None
    data: Any = Field(description="Markdown text, a table, a number 0-100 or an image URL.")
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _data_fits_type(self) -> ArtifactCreate:
        check_artifact_data(self.type, self.data)
        return self


class ArtifactUpdate(Model):
    """New data (and description) for an artifact: a progress bar moving on."""

    data: Any
    description: Description | None = None


class Artifact(ReadModel):
    id: uuid.UUID
    key: str | None = None
    type: str
    description: str | None = None
    data: Any = None
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    created: datetime
    updated: datetime


class ArtifactQuery(ReadModel):
    """Filters of `GET /api/artifacts`, newest first; `latest=true` keeps the newest of each key
    (artifacts without a key are left out then)."""

    key: str | None = Field(default=None, max_length=MAX_KEY)
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    type: ArtifactType | None = None
    latest: bool = False
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
