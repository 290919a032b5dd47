"""Tag concurrency limits: manage limits, and take, renew and release slots."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.concurrency import (
    ConcurrencyLimit,
    ConcurrencyLimitCreate,
    ConcurrencyLimitDetail,
    SlotAcquire,
    SlotAcquireResult,
    SlotCount,
    SlotHolder,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.errors import NotFoundError
from headrace_service.store import concurrency_limits as store

router = Router("concurrency_limits")


@router.route(
    "POST",
    "/concurrency_limits",
    scope="admin",
    body=ConcurrencyLimitCreate,
    response=ConcurrencyLimit,
    status=201,
)
async def create_concurrency_limit(
    request: Request, body: ConcurrencyLimitCreate
) -> ConcurrencyLimit:
    """Create the concurrency limit of a tag, or change its limit."""
    async with db(request).begin() as conn:
        await store.concurrency_limit_upsert(conn, body.tag, body.limit)
        row = await store.concurrency_limit_get(conn, body.tag)
    assert row is not None
    return to_model(ConcurrencyLimit, row)


@router.route("GET", "/concurrency_limits", response=list[ConcurrencyLimit])
async def list_concurrency_limits(request: Request) -> list[ConcurrencyLimit]:
    """All tag limits with their number of live slots."""
    async with db(request).begin() as conn:
        rows = await store.concurrency_limit_list(conn)
    return [to_model(ConcurrencyLimit, r) for r in rows]


@router.route("GET", "/concurrency_limits/{tag}", response=ConcurrencyLimitDetail)
async def read_concurrency_limit(request: Request, tag: str) -> ConcurrencyLimitDetail:
    """A tag's limit and who holds its slots."""
    async with db(request).begin() as conn:
        row = await _limit(conn, tag)
        slots = await store.concurrency_slot_list_live(conn, row["id"])
    return ConcurrencyLimitDetail.model_validate({**row, "slots": [dict(s) for s in slots]})


@router.route("DELETE", "/concurrency_limits/{tag}", scope="admin", status=204)
async def delete_concurrency_limit(request: Request, tag: str) -> Response:
    """Remove a tag's limit (and its slots)."""
    async with db(request).begin() as conn:
        if not await store.concurrency_limit_delete(conn, tag):
            raise NotFoundError(f"no concurrency limit for tag {tag!r}")
    return Response(status_code=204)


@router.route("POST", "/concurrency_limits/{tag}/reset", scope="admin", response=SlotCount)
async def reset_concurrency_limit(request: Request, tag: str) -> SlotCount:
    """Free all slots of a tag's limit."""
    async with db(request).begin() as conn:
        row = await _limit(conn, tag)
        count = await store.concurrency_slot_reset(conn, row["id"])
    return SlotCount(count=count)


@router.route(
    "POST",
    "/concurrency_slots/acquire",
    scope="worker",
    body=SlotAcquire,
    response=SlotAcquireResult,
)
async def acquire_slots(request: Request, body: SlotAcquire) -> SlotAcquireResult:
    """Take a slot of every limited tag at once, or none (then `blocked_by` says which)."""
    async with db(request).begin() as conn:
        blocked = await store.concurrency_slot_acquire(
            conn, sorted(set(body.tags)), body.holder_id, body.lease_seconds
        )
    return SlotAcquireResult(acquired=not blocked, blocked_by=blocked)


@router.route(
    "POST", "/concurrency_slots/renew", scope="worker", body=SlotHolder, response=SlotCount
)
async def renew_slots(request: Request, body: SlotHolder) -> SlotCount:
    """Extend the leases of a holder's slots."""
    async with db(request).begin() as conn:
        count = await store.concurrency_slot_renew(conn, body.holder_id, body.lease_seconds)
    return SlotCount(count=count)


@router.route(
    "POST", "/concurrency_slots/release", scope="worker", body=SlotHolder, response=SlotCount
)
async def release_slots(request: Request, body: SlotHolder) -> SlotCount:
    """Give back a holder's slots."""
    async with db(request).begin() as conn:
        count = await store.concurrency_slot_release(conn, body.holder_id)
    return SlotCount(count=count)


async def _limit(conn: AsyncConnection, tag: str) -> RowMapping:
    row = await store.concurrency_limit_get(conn, tag)
    if row is None:
        raise NotFoundError(f"no concurrency limit for tag {tag!r}")
    return row
