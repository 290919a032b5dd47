"""`/work_pools`: where deployments' runs wait for workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.work_pools import (
    WorkPool,
    WorkPoolCreate,
    WorkPoolCreateQuery,
    WorkPoolUpdate,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

WORK_POOLS = TypeAdapter(list[WorkPool])


def path(name: str) -> str:
    return f"/work_pools/{segment(name)}"


def create(client: HeadraceClient, body: WorkPoolCreate, *, overwrite: bool = False) -> WorkPool:
    """Create a pool (with a "default" queue); `overwrite` replaces an existing pool's settings
    (otherwise an existing pool is a `Conflict`)."""
    query = WorkPoolCreateQuery(overwrite=True) if overwrite else None
    return client.call("POST", "/work_pools", WorkPool, body, query=query)


def read(client: HeadraceClient, name: str) -> WorkPool:
    return client.call("GET", path(name), WorkPool)


def list_pools(client: HeadraceClient) -> list[WorkPool]:
    return client.call_list("GET", "/work_pools", WORK_POOLS)


def update(client: HeadraceClient, name: str, body: WorkPoolUpdate) -> WorkPool:
    """Change the fields set in `body` only (`concurrency_limit=None` set: no limit)."""
    return client.call("PATCH", path(name), WorkPool, body, patch=True)


def delete(client: HeadraceClient, name: str) -> None:
    client.send("DELETE", path(name))
