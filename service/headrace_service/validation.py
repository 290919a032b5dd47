"""Small input checks shared by endpoints."""

from __future__ import annotations

import uuid

from headrace_service.errors import InvalidInput, NotFoundError


def parse_uuid(value: str, what: str) -> uuid.UUID:
    """A path id; a malformed one is a 404 of that id (it cannot name anything)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(f"{what} {value!r} not found (not a valid UUID)") from None


def parse_int(value: str | None, what: str, *, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"query.{what}: expected an integer, got {value!r}") from None
    if not low <= number <= high:
        raise InvalidInput(f"query.{what}: must be between {low} and {high}, got {number}")
    return number
