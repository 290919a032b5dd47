"""PATCH bodies: the fields a client sent, with nulls refused where "no value" makes no sense."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from headrace_service.errors import InvalidInput

# Fields that accept null in a PATCH: null removes the value (e.g. a concurrency limit).
NULLABLE = frozenset({"concurrency_limit", "concurrency_key", "description"})


def changes_of(body: BaseModel) -> dict[str, Any]:
    """The fields set in `body`; a 422 for a null where a value is needed."""
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise InvalidInput(f"body.{field}: may not be null; leave it out to keep the value")
    return changes
