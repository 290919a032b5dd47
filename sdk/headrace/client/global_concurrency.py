"""`/global_concurrency_limits` and `/global_concurrency_slots`: named limits and their slots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.global_concurrency import (
    GlobalLimit,
    GlobalLimitCreate,
    GlobalLimitDetail,
    GlobalLimitUpdate,
    GlobalSlotAcquire,
    GlobalSlotAcquireResult,
    GlobalSlotCount,
    GlobalSlotHolder,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

LIMITS = TypeAdapter(list[GlobalLimit])


def path(name: str) -> str:
    return f"/global_concurrency_limits/{segment(name)}"


def create_limit(client: HeadraceClient, body: GlobalLimitCreate) -> GlobalLimit:
    return client.call("POST", "/global_concurrency_limits", GlobalLimit, body)


def list_limits(client: HeadraceClient, **options: Any) -> list[GlobalLimit]:
    return client.call_list("GET", "/global_concurrency_limits", LIMITS, **options)


def read_limit(client: HeadraceClient, name: str) -> GlobalLimitDetail:
    return client.call("GET", path(name), GlobalLimitDetail)


def update_limit(client: HeadraceClient, name: str, body: GlobalLimitUpdate) -> GlobalLimit:
    return client.call("PATCH", path(name), GlobalLimit, body, patch=True)


def delete_limit(client: HeadraceClient, name: str) -> None:
    client.send("DELETE", path(name))


def acquire(client: HeadraceClient, body: GlobalSlotAcquire) -> GlobalSlotAcquireResult:
    """`occupy` slots of every named limit, all or none (then the holder keeps its place in
    line while it asks again)."""
    return client.call("POST", "/global_concurrency_slots/acquire", GlobalSlotAcquireResult, body)


def renew(client: HeadraceClient, body: GlobalSlotHolder, **options: Any) -> GlobalSlotCount:
    return client.call("POST", "/global_concurrency_slots/renew", GlobalSlotCount, body, **options)


def release(client: HeadraceClient, body: GlobalSlotHolder) -> GlobalSlotCount:
    return client.call("POST", "/global_concurrency_slots/release", GlobalSlotCount, body)
