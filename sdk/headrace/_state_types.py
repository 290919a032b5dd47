"""State types and names: plain Python, importable without pydantic (cheap at import time)."""

from __future__ import annotations

from enum import StrEnum


class StateType(StrEnum):
    """What a run is doing. Names (below) refine a type."""

    SCHEDULED = "SCHEDULED"  # waiting for its start time (names: Scheduled, Late, AwaitingRetry)
    PENDING = "PENDING"  # claimed by a worker, its process starting
    RUNNING = "RUNNING"  # user code is executing (names: Running, Retrying)
    COMPLETED = "COMPLETED"  # finished well (names: Completed, Cached)
    FAILED = "FAILED"  # user code raised (names: Failed, TimedOut)
    CRASHED = "CRASHED"  # the process or its worker died without reporting an outcome
    CANCELLING = "CANCELLING"  # cancel requested; the worker is stopping the process
    CANCELLED = "CANCELLED"  # stopped on request
    PAUSED = "PAUSED"  # suspended, waiting for input or a resume


TERMINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)
# A run in one of these holds a slot of its pool's, queue's and deployment's concurrency limits.
ACTIVE_TYPES = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})

DEFAULT_NAMES = {
    StateType.SCHEDULED: "Scheduled",
    StateType.PENDING: "Pending",
    StateType.RUNNING: "Running",
    StateType.COMPLETED: "Completed",
    StateType.FAILED: "Failed",
    StateType.CRASHED: "Crashed",
    StateType.CANCELLING: "Cancelling",
    StateType.CANCELLED: "Cancelled",
    StateType.PAUSED: "Paused",
}


def is_terminal(state_type: StateType | str) -> bool:
    return StateType(state_type) in TERMINAL_TYPES
