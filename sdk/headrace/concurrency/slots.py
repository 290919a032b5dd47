"""Taking slots of global concurrency limits through the API: the wait loop shared by the sync
and async forms, lease renewal while held, release.

The wait loop is a generator: each step asks the server once (keeping this holder's place in
the queue of each full limit) and yields how long to sleep before the next; the sync form
sleeps with `time.sleep`, the async form runs the steps in a thread and sleeps with
`asyncio.sleep`.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from headrace.concurrency.tags import renewer
from headrace.errors import ApiError, HeadraceError

if TYPE_CHECKING:
    from headrace.client import HeadraceClient

# A waiting holder asks again after these delays (with jitter); the server drops a waiter that
# has not asked for 10 s, so the longest delay stays well under that.
FIRST_POLL_SECONDS = 0.02
HEAD_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0

_logger = logging.getLogger("headrace.concurrency")


class ConcurrencySlotAcquisitionError(HeadraceError):
    """The slots could not be taken: the API refused (a request above a limit, a rate limit on
    a limit without decay), or, with strict=True, a limit does not exist."""


class AcquireConcurrencySlotTimeoutError(TimeoutError):
    """The slots were not free within `timeout_seconds`."""


def as_names(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


@dataclass(frozen=True)
class GlobalSlots:
    """The API's slots of global limits, as the lease renewer sees them."""

    client: HeadraceClient

    def renew(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None:
        from headrace.client import global_concurrency as api
        from headrace.schemas.global_concurrency import GlobalSlotHolder

        for holder_id in holder_ids:
            renewed = api.renew(
                self.client, GlobalSlotHolder(holder_id=holder_id, lease_seconds=lease_seconds)
            )
            if renewed.count == 0 and renewer.holds(holder_id):
                # Expired (renewals failed for a whole lease) or lost in a database crash:
                # another holder may have the slot now. Say so once, and stop renewing.
                renewer.remove(holder_id)
                _logger.warning(
                    "concurrency slots of holder %s are no longer held (the lease expired or "
                    "the server lost it); the limit may be exceeded until this block ends",
                    holder_id,
                )

    def release(self, holder_id: uuid.UUID) -> None:
        from headrace.client import global_concurrency as api
        from headrace.schemas.global_concurrency import GlobalSlotHolder

        renewer.remove(holder_id)
        try:
            api.release(self.client, GlobalSlotHolder(holder_id=holder_id))
        except HeadraceError as exc:
            # The lease expires on its own; until then the slots stay taken.
            _logger.warning("could not release concurrency slots (%s); the lease will expire", exc)


@dataclass(frozen=True)
class Request:
    names: list[str]
    occupy: int
    mode: Literal["concurrency", "rate_limit"]
    timeout_seconds: float | None
    lease_seconds: float
    strict: bool


@dataclass(frozen=True)
class HeldGlobalSlots:
    """Slots taken by `concurrency(...)`; `release()` gives them back."""

    slots: GlobalSlots
    holder_id: uuid.UUID

    def release(self) -> None:
        self.slots.release(self.holder_id)


def acquire_steps(request: Request) -> Generator[float, None, HeldGlobalSlots | None]:
    """Ask until the slots are taken; yields the delays between asks. Returns the slots to
    release (None: nothing was taken, or a rate limit, which decay gives back)."""
    from headrace.client import global_concurrency as api
    from headrace.client.shared import shared_client
    from headrace.schemas.global_concurrency import GlobalSlotAcquire

    slots = GlobalSlots(shared_client())
    holder_id = uuid.uuid4()
    body = GlobalSlotAcquire(
        names=request.names,
        occupy=request.occupy,
        holder_id=holder_id,
        mode=request.mode,
        lease_seconds=request.lease_seconds,
        first_ask=True,
    )
    deadline = (
        None if request.timeout_seconds is None else time.monotonic() + request.timeout_seconds
    )
    delay = FIRST_POLL_SECONDS
    while True:
        try:
            result = api.acquire(slots.client, body)
        except HeadraceError as exc:
            detail = exc.detail if isinstance(exc, ApiError) else str(exc)
            raise ConcurrencySlotAcquisitionError(
                f"unable to acquire concurrency slots on {request.names!r}: {detail}"
            ) from None
        if not result.limits:
            if request.strict:
                raise ConcurrencySlotAcquisitionError(
                    f"concurrency limits {request.names!r} must be created before acquiring "
                    "slots (headrace gcl create NAME --limit N)"
                )
            _logger.warning(
                "concurrency limits %r do not exist; running without them", request.names
            )
            return None
        if result.acquired:
            if request.mode == "rate_limit":
                return None
            renewer.add(slots, holder_id, request.lease_seconds)
            return HeldGlobalSlots(slots, holder_id)
        body = body.model_copy(update={"first_ask": False})  # now it may be in line
        if deadline is not None and time.monotonic() >= deadline:
            slots.release(holder_id)  # leave the queues
            raise AcquireConcurrencySlotTimeoutError(
                f"attempt to acquire concurrency slots of {result.blocked_by!r} timed out "
                f"after {request.timeout_seconds} second(s)"
            )
        # Next in line: ask again soon, a slot may free any moment. Further back: more slowly
        # (still well within the server's 10 s before it drops a silent waiter).
        delay = (
            min(delay * 1.5, HEAD_POLL_SECONDS)
            if result.waiting_ahead == 0
            else min(FIRST_POLL_SECONDS * (1 + result.waiting_ahead), MAX_POLL_SECONDS)
        )
        wait = delay * random.uniform(0.75, 1.25)
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        yield wait


def acquisition(
    names: str | list[str],
    occupy: int,
    mode: Literal["concurrency", "rate_limit"],
    timeout_seconds: float | None,
    lease_seconds: float,
    strict: bool,
) -> Generator[float, None, HeldGlobalSlots | None] | None:
    """The steps of taking these slots (see `acquire_steps`); None when no name is given."""
    listed = as_names(names)
    if not listed:
        return None
    return acquire_steps(Request(listed, occupy, mode, timeout_seconds, lease_seconds, strict))
