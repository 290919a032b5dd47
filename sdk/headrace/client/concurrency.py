"""`/concurrency_limits` and `/concurrency_slots`: tag limits and the slots task runs hold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.concurrency import (
    ConcurrencyLimit,
    ConcurrencyLimitCreate,
    ConcurrencyLimitDetail,
    SlotAcquire,
    SlotAcquireResult,
    SlotCount,
    SlotHolder,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

LIMITS = TypeAdapter(list[ConcurrencyLimit])


def path(tag: str) -> str:
    return f"/concurrency_limits/{segment(tag)}"


def create_limit(client: HeadraceClient, body: ConcurrencyLimitCreate) -> ConcurrencyLimit:
    """Create the limit of a tag, or change it."""
    return client.call("POST", "/concurrency_limits", ConcurrencyLimit, body)


def list_limits(client: HeadraceClient, **options: Any) -> list[ConcurrencyLimit]:
    return client.call_list("GET", "/concurrency_limits", LIMITS, **options)


def read_limit(client: HeadraceClient, tag: str) -> ConcurrencyLimitDetail:
    return client.call("GET", path(tag), ConcurrencyLimitDetail)


def delete_limit(client: HeadraceClient, tag: str) -> None:
    client.send("DELETE", path(tag))


def reset_limit(client: HeadraceClient, tag: str) -> SlotCount:
    """Free every slot of the tag's limit."""
    return client.call("POST", f"{path(tag)}/reset", SlotCount)


def acquire(client: HeadraceClient, body: SlotAcquire) -> SlotAcquireResult:
    """One slot of every limited tag in `body.tags`, all or none."""
    return client.call("POST", "/concurrency_slots/acquire", SlotAcquireResult, body)


def renew(client: HeadraceClient, body: SlotHolder, **options: Any) -> SlotCount:
    return client.call("POST", "/concurrency_slots/renew", SlotCount, body, **options)


def release(client: HeadraceClient, body: SlotHolder) -> SlotCount:
    return client.call("POST", "/concurrency_slots/release", SlotCount, body)
