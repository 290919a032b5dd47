"""The one pure function that decides whether a flow run may move from one state to another.

It knows nothing of the database. `queue.flow_run_set_state` locks the run's row (SELECT ... FOR
UPDATE), asks it, and writes the answer in the same transaction, so no concurrent change can slip
between the decision and the write. The queue's bulk statements (claim, lease rescue, cancelling
a pool's waiting runs, late marking, skipping, scheduling) do not call it: each moves runs along
one pair of ALLOWED, which tests/api/test_state_path.py checks against this table.
docs/state-machine.md is drawn from ALLOWED by docs/generate_state_machine.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from headrace._state_types import TERMINAL_TYPES, StateType

S = StateType

# What may follow what. Terminal states may only go back to SCHEDULED (a retry or a rerun).
ALLOWED: dict[StateType | None, frozenset[StateType]] = {
    None: frozenset({S.SCHEDULED, S.PENDING, S.RUNNING}),
    S.SCHEDULED: frozenset(
        {S.SCHEDULED, S.PENDING, S.RUNNING, S.CANCELLED, S.CANCELLING, S.FAILED, S.CRASHED}
    ),
    S.PENDING: frozenset({S.SCHEDULED, S.RUNNING, S.CANCELLING, S.CANCELLED, S.FAILED, S.CRASHED}),
    S.RUNNING: frozenset(
        {S.SCHEDULED, S.COMPLETED, S.FAILED, S.CRASHED, S.CANCELLING, S.CANCELLED, S.PAUSED}
    ),
    # PAUSED to PAUSED: a Paused run (its process waits) suspended (its process exits).
    S.PAUSED: frozenset(
        {S.RUNNING, S.SCHEDULED, S.PAUSED, S.CANCELLING, S.CANCELLED, S.FAILED, S.CRASHED}
    ),
    S.CANCELLING: frozenset({S.CANCELLED, S.CRASHED, S.FAILED, S.COMPLETED}),
    S.COMPLETED: frozenset({S.SCHEDULED}),
    S.FAILED: frozenset({S.SCHEDULED}),
    S.CRASHED: frozenset({S.SCHEDULED}),
    S.CANCELLED: frozenset({S.SCHEDULED}),
}
# The states a run may be created in.
INITIAL_TYPES = ALLOWED[None]


@dataclass(frozen=True)
class Decision:
    accept: bool
    # The run is already in exactly this state: accept without writing a second history row,
    # so a client retrying after an ambiguous commit gets the same answer.
    unchanged: bool = False
    reason: str | None = None


def decide(
    current_type: StateType | None,
    current_name: str | None,
    proposed_type: StateType,
    proposed_name: str,
    *,
    holder: uuid.UUID | None = None,
    requester: uuid.UUID | None = None,
    force: bool = False,
) -> Decision:
    """May a run in `current` move to `proposed` when `requester` asks and `holder` holds it?"""
    # Checked before `force`: forcing the state a run is in changes nothing either.
    if current_type == proposed_type and current_name == proposed_name:
        return Decision(accept=True, unchanged=True)
    if force:
        return Decision(accept=True)
    fenced = fence_refusal(holder, requester)
    if fenced is not None:
        return Decision(accept=False, reason=fenced)
    if (
        proposed_type is S.RUNNING
        and current_type is S.PENDING
        and holder is not None
        and requester is None
    ):
        return Decision(
            accept=False, reason="the run was claimed by a worker; only that worker may start it"
        )
    if proposed_type not in ALLOWED[current_type]:
        if current_type in TERMINAL_TYPES:
            why = f"the run already finished as {current_name}"
        elif current_type is S.CANCELLING:
            why = "the run is being cancelled"
        elif current_type is None:
            why = f"a new run must start as {one_of(INITIAL_TYPES)}"
        else:
            why = f"a {current_type.value} run cannot become {proposed_type.value}"
        return Decision(accept=False, reason=f"{why}; refused {proposed_name}")
    return Decision(accept=True)


def fence_refusal(holder: uuid.UUID | None, requester: uuid.UUID | None) -> str | None:
    """Why `requester`, a worker, may no longer act for a run `holder` holds; None if it may
    (or when no worker asks). The fence of a run's attempt is its worker's lease: once the lease
    expired, the reaper released the run (holder None) and another worker may have claimed it."""
    if requester is None or requester == holder:
        return None
    if holder is None:
        return f"worker {requester} no longer holds the run (its lease expired)"
    return f"the run is held by another worker ({holder}), not {requester}"


def lease_refusal(
    holder: uuid.UUID | None, requester: uuid.UUID, current_type: StateType
) -> str | None:
    """Why the running attempt of `requester`, a worker, no longer owns the run; None if it
    does. An attempt that runs has taken its run to RUNNING: a run PENDING again was claimed
    again since (by this same worker, after its lease expired and the run was rescued)."""
    fenced = fence_refusal(holder, requester)
    if fenced is None and current_type is S.PENDING:
        return "the run was claimed again since this attempt started (its lease had expired)"
    return fenced


def one_of(types: frozenset[StateType]) -> str:
    """`SCHEDULED, PENDING or RUNNING`: in declaration order."""
    names = [t.value for t in StateType if t in types]
    return ", ".join(names[:-1]) + " or " + names[-1]
