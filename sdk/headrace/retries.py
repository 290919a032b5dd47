"""How long to wait before the next attempt of a run: fixed, per attempt, or exponential, with
optional jitter."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

# A number for every retry, a list with one delay per retry (the last one repeats), or a function
# of the number of retries returning that list (what `exponential_backoff` makes).
RetryDelay = float | Sequence[float] | Callable[[int], Sequence[float]]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Delays of `backoff_factor * 2**n` seconds for retry n = 0, 1, 2..."""
    if backoff_factor < 0:
        raise ValueError("backoff_factor must be >= 0")

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**n for n in range(max(retries, 1))]

    return delays


def validate_retry_options(retries: int, delay: RetryDelay, jitter_factor: float | None) -> None:
    """Bad retry options are an error when the task or flow is defined, not when it fails."""
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if jitter_factor is not None and jitter_factor < 0:
        raise ValueError("retry_jitter_factor must be >= 0")
    if isinstance(delay, int | float):
        if delay < 0:
            raise ValueError("retry_delay_seconds must be >= 0")
    elif not callable(delay) and any(d < 0 for d in delay):
        raise ValueError("retry_delay_seconds must all be >= 0")


def retry_delay(
    delay: RetryDelay, retries: int, retry_number: int, jitter_factor: float | None = None
) -> float:
    """Seconds to wait before retry `retry_number` (0 for the first retry)."""
    if isinstance(delay, int | float):
        base = float(delay)
    else:
        delays = delay(retries) if callable(delay) else delay
        base = float(delays[min(retry_number, len(delays) - 1)]) if delays else 0.0
    if jitter_factor:
        # Spread retries of many runs that failed together so they do not retry in lockstep.
        base += random.uniform(0, base * jitter_factor)
    return base


def first_delay(delay: RetryDelay, retries: int) -> float:
    """The delay recorded on a flow run for the server (which takes a single number)."""
    return retry_delay(delay, retries, 0)
