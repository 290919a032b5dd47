"""`/results`: serialised task results kept for caching."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headrace.client.transport import segment
from headrace.schemas.results import Result, ResultStored, ResultWrite

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient


def path(key: str) -> str:
    return f"/results/{segment(key)}"


def read(client: HeadraceClient, key: str, **options: Any) -> Result:
    """The unexpired result under `key`; `NotFound` when there is none."""
    return client.call("GET", path(key), Result, **options)


def write(client: HeadraceClient, key: str, body: ResultWrite) -> ResultStored:
    """Store a result, replacing the one under the same key."""
    return client.call("PUT", path(key), ResultStored, body)


def delete(client: HeadraceClient, key: str) -> None:
    client.send("DELETE", path(key))
