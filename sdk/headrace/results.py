"""Serialising results: JSON by default, pickle only when asked for, or any object with
`dumps(value) -> bytes` and `loads(bytes) -> value` (`result_serializer=MySerializer()`)."""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any, Literal, Protocol, runtime_checkable

from headrace.exceptions import ResultTooLarge, UnserializableResult

Serializer = Literal["json", "pickle"]
SERIALIZERS: tuple[Serializer, ...] = ("json", "pickle")


@runtime_checkable
class SerializerObject(Protocol):
    """A serializer of your own: it must pickle (it travels with the task to task runners)."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


ResultSerializer = Serializer | SerializerObject


def check_serializer(serializer: object) -> None:
    """Refuse, at decoration, a `result_serializer` that is neither a name nor an object."""
    if serializer in SERIALIZERS or isinstance(serializer, SerializerObject):
        return
    raise ValueError(
        'result_serializer must be "json", "pickle" or an object with dumps() and loads(), '
        f"not {serializer!r}"
    )


def serializer_name(serializer: ResultSerializer) -> str:
    """The name stored next to a result (an object's `type`, else its class's path)."""
    if isinstance(serializer, str):
        return serializer
    name = getattr(serializer, "type", None)
    cls = type(serializer)
    return name if isinstance(name, str) else f"{cls.__module__}.{cls.__qualname__}"


def serialize(value: Any, serializer: ResultSerializer, what: str, max_bytes: int) -> bytes:
    """The bytes stored for `value`; a clear error if it cannot be serialised or is too big."""
    if not isinstance(serializer, str):
        try:
            data = serializer.dumps(value)
        except Exception as exc:
            raise UnserializableResult(
                f"the result of {what} cannot be serialised by {serializer_name(serializer)} "
                f"({type(exc).__name__}: {exc})"
            ) from None
    elif serializer == "json":
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


def deserialize(data: bytes, serializer: str, custom: object = None) -> Any:
    """The value back; `custom` is the serializer object the result was written with, if any."""
    if isinstance(custom, SerializerObject) and serializer == serializer_name(custom):
        return custom.loads(data)
    if serializer == "json":
        return json.loads(data)
    if serializer == "pickle":
        return pickle.loads(data)
    raise ValueError(
        f"the result was written by serializer {serializer!r}: read it with that serializer"
    )


def storage_key(cache_key: str) -> str:
    """The key a result is stored under: a fixed-size, URL-safe hash of the cache key."""
    return hashlib.sha256(cache_key.encode()).hexdigest()
