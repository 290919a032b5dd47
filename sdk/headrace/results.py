"""Serialising results for the cache: JSON by default, pickle only when asked for."""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any, Literal

from headrace.exceptions import ResultTooLarge, UnserializableResult

Serializer = Literal["json", "pickle"]
SERIALIZERS: tuple[Serializer, ...] = ("json", "pickle")


def serialize(value: Any, serializer: Serializer, what: str, max_bytes: int) -> bytes:
    """The bytes stored for `value`; a clear error if it cannot be serialised or is too big."""
    if serializer == "json":
        try:
            data = json.dumps(value, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise UnserializableResult(
                f"the result of {what} cannot be stored as JSON ({exc}); return JSON-compatible "
                'data, or opt in to pickle with result_serializer="pickle"'
            ) from None
    elif serializer == "pickle":
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise UnserializableResult(
                f"the result of {what} cannot be pickled ({type(exc).__name__}: {exc})"
            ) from None
    else:
        raise ValueError(f"unknown result_serializer {serializer!r}; use one of {SERIALIZERS}")
    if len(data) > max_bytes:
        raise ResultTooLarge(
            f"the result of {what} is {len(data):,} bytes once serialised, over the limit of "
            f"{max_bytes:,} bytes (set HEADRACE_RESULT_MAX_BYTES to raise it)"
        )
    return data


def deserialize(data: bytes, serializer: str) -> Any:
    if serializer == "json":
        return json.loads(data)
    if serializer == "pickle":
        return pickle.loads(data)
    raise ValueError(f"unknown result serializer {serializer!r}")


def storage_key(cache_key: str) -> str:
    """The key a result is stored under: a fixed-size, URL-safe hash of the cache key."""
    return hashlib.sha256(cache_key.encode()).hexdigest()
