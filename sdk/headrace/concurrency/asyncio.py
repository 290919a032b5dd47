"""`concurrency` and `rate_limit` for async code (Prefect's `prefect.concurrency.asyncio`).

    from headrace.concurrency.asyncio import concurrency, rate_limit

    async with concurrency("warehouse"):
        await load()

Each ask goes to the API from a worker thread, and waits between asks are `asyncio.sleep`s:
the event loop keeps running while a slot is awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from headrace.concurrency.slots import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    acquisition,
)

T = TypeVar("T")

__all__ = [
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
    "concurrency",
    "rate_limit",
]

_DONE = object()


def _step(steps: Generator[float, None, T]) -> tuple[object, Any]:
    # StopIteration cannot cross into a future: turn the end of the steps into a value.
    try:
        return None, next(steps)
    except StopIteration as done:
        return _DONE, done.value


async def _run(steps: Generator[float, None, T]) -> T:
    while True:
        marker, value = await asyncio.to_thread(_step, steps)
        if marker is _DONE:
            result: T = value
            return result
        await asyncio.sleep(value)


@asynccontextmanager
async def concurrency(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    lease_duration: float = 300,
    strict: bool = False,
    holder: Any = None,
    raise_on_lease_renewal_failure: bool | None = None,
) -> AsyncIterator[None]:
    """The async form of `headrace.concurrency.sync.concurrency`."""
    steps = acquisition(names, occupy, "concurrency", timeout_seconds, lease_duration, strict)
    held = None if steps is None else await _run(steps)
    try:
        yield
    finally:
        if held is not None:
            await asyncio.to_thread(held.release)


async def rate_limit(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """The async form of `headrace.concurrency.sync.rate_limit`."""
    steps = acquisition(names, occupy, "rate_limit", timeout_seconds, 300, strict)
    if steps is not None:
        await _run(steps)
