"""Global concurrency and rate limits: manage limits; take, renew and release their slots."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

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
from headrace_service.api.deps import db, settings, to_model
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError, InvalidInput, NotFoundError
from headrace_service.store import global_concurrency as store

router = Router("global_concurrency_limits")


@router.route(
    "POST",
    "/global_concurrency_limits",
    scope="admin",
    body=GlobalLimitCreate,
    response=GlobalLimit,
    status=201,
)
async def create_global_limit(request: Request, body: GlobalLimitCreate) -> GlobalLimit:
    """Create a global concurrency limit (with `slot_decay_per_second`, a rate limit)."""
    async with db(request).begin() as conn:
        if not await store.global_limit_create(conn, body.model_dump()):
            raise ConflictError(
                f"a global concurrency limit named {body.name!r} exists; update it instead"
            )
        row = await _limit(conn, body.name)
    return to_model(GlobalLimit, row)


@router.route("GET", "/global_concurrency_limits", response=list[GlobalLimit])
async def list_global_limits(request: Request) -> list[GlobalLimit]:
    """All global limits with their slots in use and holders waiting."""
    async with db(request).begin() as conn:
        rows = await store.global_limit_list(conn)
    return [to_model(GlobalLimit, r) for r in rows]


@router.route("GET", "/global_concurrency_limits/{name}", response=GlobalLimitDetail)
async def read_global_limit(request: Request, name: str) -> GlobalLimitDetail:
    """A global limit and who holds its slots."""
    async with db(request).begin() as conn:
        row = await _limit(conn, name)
        slots = await store.global_slot_list_live(conn, row["id"])
    return GlobalLimitDetail.model_validate({**row, "slots": [dict(s) for s in slots]})


@router.route(
    "PATCH",
    "/global_concurrency_limits/{name}",
    scope="admin",
    body=GlobalLimitUpdate,
    response=GlobalLimit,
)
async def update_global_limit(request: Request, name: str, body: GlobalLimitUpdate) -> GlobalLimit:
    """Change a limit's size, decay, or whether it is enabled."""
    changes = changes_of(body)
    async with db(request).begin() as conn:
        if changes and not await store.global_limit_update(conn, name, changes):
            raise NotFoundError(f"no global concurrency limit named {name!r}")
        row = await _limit(conn, name)
    return to_model(GlobalLimit, row)


@router.route("DELETE", "/global_concurrency_limits/{name}", scope="admin", status=204)
async def delete_global_limit(request: Request, name: str) -> Response:
    """Remove a global limit, its slots and its queue."""
    async with db(request).begin() as conn:
        if not await store.global_limit_delete(conn, name):
            raise NotFoundError(f"no global concurrency limit named {name!r}")
    return Response(status_code=204)


@router.route(
    "POST",
    "/global_concurrency_slots/acquire",
    scope="worker",
    body=GlobalSlotAcquire,
    response=GlobalSlotAcquireResult,
)
async def acquire_global_slots(
    request: Request, body: GlobalSlotAcquire
) -> GlobalSlotAcquireResult:
    """Take `occupy` slots of every enabled named limit, or none and keep a place in line."""
    names = sorted(set(body.names))
    default = settings(request).global_concurrency_default_limit
    async with db(request).begin() as conn:
        if not body.first_ask:
            behind = await store.global_waiter_still_behind(conn, names, body.holder_id)
            if behind is not None:
                return _refused(sorted(behind), behind)
        limits = await store.global_limit_lock(conn, names, default)
        enabled = [row for row in limits if row["active"]]
        _check_request(enabled, body)
        blocked = (
            await store.global_slot_take(
                conn,
                enabled,
                store.SlotRequest(
                    holder_id=body.holder_id,
                    occupy=body.occupy,
                    lease_seconds=body.lease_seconds,
                    decaying=body.mode == "rate_limit",
                ),
            )
            if enabled
            else {}
        )
    if blocked:
        return _refused([row["name"] for row in limits], blocked)
    return GlobalSlotAcquireResult(acquired=True, limits=[row["name"] for row in limits])


def _refused(limits: list[str], blocked: dict[str, int]) -> GlobalSlotAcquireResult:
    return GlobalSlotAcquireResult(
        acquired=False,
        limits=limits,
        blocked_by=sorted(blocked),
        waiting_ahead=max(blocked.values(), default=0),
    )


def _check_request(enabled: list[RowMapping], body: GlobalSlotAcquire) -> None:
    """422 for what could never be granted: more slots than a limit has, or a rate limit on a
    limit without decay."""
    too_small = [f"{r['name']!r} ({r['limit']})" for r in enabled if r["limit"] < body.occupy]
    if too_small:
        raise InvalidInput(
            f"body.occupy: {body.occupy} slots is more than the limit of "
            f"{', '.join(too_small)}; ask for fewer or raise the limit"
        )
    no_decay = [r["name"] for r in enabled if r["slot_decay_per_second"] <= 0]
    if body.mode == "rate_limit" and no_decay:
        raise InvalidInput(
            f"body.names: rate_limit needs limits with slot_decay_per_second > 0; {no_decay} "
            "have none (headrace gcl update NAME --slot-decay-per-second RATE)"
        )


@router.route(
    "POST",
    "/global_concurrency_slots/renew",
    scope="worker",
    body=GlobalSlotHolder,
    response=GlobalSlotCount,
    pool="lease",
)
async def renew_global_slots(request: Request, body: GlobalSlotHolder) -> GlobalSlotCount:
    """Extend the leases of a holder's slots."""
    async with db(request).begin() as conn:
        count = await store.global_slot_renew(conn, body.holder_id, body.lease_seconds)
    return GlobalSlotCount(count=count)


@router.route(
    "POST",
    "/global_concurrency_slots/release",
    scope="worker",
    body=GlobalSlotHolder,
    response=GlobalSlotCount,
)
async def release_global_slots(request: Request, body: GlobalSlotHolder) -> GlobalSlotCount:
    """Give back a holder's slots (and its places in line)."""
    async with db(request).begin() as conn:
        count = await store.global_slot_release(conn, body.holder_id)
    return GlobalSlotCount(count=count)


async def _limit(conn: AsyncConnection, name: str) -> RowMapping:
    row = await store.global_limit_get(conn, name)
    if row is None:
        raise NotFoundError(f"no global concurrency limit named {name!r}")
    return row
