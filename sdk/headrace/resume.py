"""Resume from failure: what makes a task run of a later attempt "the same step" as one that
completed in an earlier attempt, and where that step's result is kept for it.

A task run's identity is its flow run + task key + dynamic key (the n-th call of that task in
the attempt; `headrace.engine.task_call.task_run_id`). A later attempt reuses a completed run's
result only when it reaches the same identity **with the same inputs**: the result is stored
under a key made of both, so a call whose arguments changed (the fix changed them, or a call
of the same task was added before it and shifted the dynamic keys) finds nothing and runs.
The rules are written out for users in docs/resume-from-failure.md.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from headrace import states as st
from headrace.caching import UncacheableInputs, hash_objects
from headrace.results import storage_key
from headrace.states import State

# The name of the state of a task run whose result came from an earlier attempt.
REUSED = "Reused"
# A completed task run undone with its transaction: it must run again, never be reused.
ROLLED_BACK = "RolledBack"


def resume_key(task_run_id: uuid.UUID, task_key: str, parameters: Mapping[str, Any]) -> str:
    """The key a task run's result is stored under for a later attempt: its identity (the id
    derives from it) and a hash of its inputs (identity alone when they cannot be hashed)."""
    try:
        inputs = hash_objects(task_key, dict(parameters))
    except UncacheableInputs:
        inputs = "unhashable-inputs"
    return storage_key(f"resume:{task_run_id}:{inputs}")


def reused(value: Any, attempt: int, details: dict[str, Any]) -> State[Any]:
    """The final state of a task run not run again: its result is the stored one."""
    return st.Completed(
        value, f"reused from attempt {attempt}", name=REUSED, details=dict(details, attempt=attempt)
    )


def attempt_of(end_time: datetime | None, attempt_starts: list[datetime], default: int) -> int:
    """The flow run attempt a task run that ended at `end_time` belonged to: how many
    attempts had started by then (`attempt_starts`: when each attempt started, in order)."""
    if end_time is None or not attempt_starts:
        return default
    return max(1, bisect.bisect_right(attempt_starts, end_time))


def completed_in(
    records: Iterable[Any], attempt: int, known: dict[uuid.UUID, int]
) -> dict[uuid.UUID, int]:
    """`known` with the task runs of `records` (an attempt's) that completed in `attempt`;
    a run already known (reused in that attempt) keeps the attempt it really ran in."""
    merged = dict(known)
    for record in records:
        state = record.state
        if (
            state is not None
            and state.is_completed()
            and state.name != ROLLED_BACK
            and record.id not in merged
        ):
            merged[record.id] = attempt
    return merged
