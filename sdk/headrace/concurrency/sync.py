"""`concurrency` and `rate_limit` for synchronous code (Prefect's `prefect.concurrency.sync`).

from headrace.concurrency.sync import concurrency, rate_limit

with concurrency("warehouse", occupy=1):
    load()                  # at most N of these at once, across every process and host

rate_limit("openai")        # at most the limit's rate (slot_decay_per_second)
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
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


def _run(steps: Generator[float, None, T]) -> T:
    while True:
        try:
            delay = next(steps)
        except StopIteration as done:
            result: T = done.value
            return result
        time.sleep(delay)


@contextmanager
def concurrency(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    lease_duration: float = 300,
    strict: bool = False,
    holder: Any = None,
    raise_on_lease_renewal_failure: bool | None = None,
) -> Iterator[None]:
    """Hold `occupy` slots of every named global limit while the block runs: wait for them
    (first come, first served), keep their lease alive, give them back on exit. A limit that
    does not exist is skipped (a warning), or an error with `strict=True`; waiting longer than
    `timeout_seconds` raises `TimeoutError`. (`max_retries`, `holder` and
    `raise_on_lease_renewal_failure` are accepted for Prefect's signature.)"""
    steps = acquisition(names, occupy, "concurrency", timeout_seconds, lease_duration, strict)
    held = None if steps is None else _run(steps)
    try:
        yield
    finally:
        if held is not None:
            held.release()


def rate_limit(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """Block until `occupy` slots of every named limit are free, and take them; decay gives
    them back (each limit needs `slot_decay_per_second` > 0)."""
    steps = acquisition(names, occupy, "rate_limit", timeout_seconds, 300, strict)
    if steps is not None:
        _run(steps)
