"""`/work_pools/{pool}/queues`: the queues of a pool, which order and limit its runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.client.work_pools import path as pool_path
from headrace.schemas.work_pools import WorkQueue, WorkQueueCreate, WorkQueueUpdate

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

WORK_QUEUES = TypeAdapter(list[WorkQueue])


def path(pool: str, name: str) -> str:
    return f"{pool_path(pool)}/queues/{segment(name)}"


def create(client: HeadraceClient, pool: str, body: WorkQueueCreate) -> WorkQueue:
    return client.call("POST", f"{pool_path(pool)}/queues", WorkQueue, body)


def read(client: HeadraceClient, pool: str, name: str) -> WorkQueue:
    return client.call("GET", path(pool, name), WorkQueue)


def list_queues(client: HeadraceClient, pool: str) -> list[WorkQueue]:
    """The pool's queues, most urgent first."""
    return client.call_list("GET", f"{pool_path(pool)}/queues", WORK_QUEUES)


def update(client: HeadraceClient, pool: str, name: str, body: WorkQueueUpdate) -> WorkQueue:
    """Change the fields set in `body` only."""
    return client.call("PATCH", path(pool, name), WorkQueue, body, patch=True)
