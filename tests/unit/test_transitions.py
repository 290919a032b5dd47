"""The transition rules, as a pure function."""

from __future__ import annotations

import uuid

import pytest

from headrace._state_types import StateType as S
from headrace_service.transitions import decide, lease_refusal


@pytest.mark.parametrize(
    ("current", "proposed"),
    [
        (None, S.RUNNING),
        (None, S.SCHEDULED),
        (S.SCHEDULED, S.PENDING),
        (S.PENDING, S.RUNNING),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.SCHEDULED),
        (S.RUNNING, S.CANCELLING),
        (S.CANCELLING, S.CANCELLED),
        (S.FAILED, S.SCHEDULED),
    ],
)
def test_allowed_transitions_are_accepted(current: S | None, proposed: S) -> None:
    assert decide(
        current, current and current.value.title(), proposed, proposed.value.title()
    ).accept


@pytest.mark.parametrize(
    ("current", "proposed", "reason"),
    [
        (S.COMPLETED, S.RUNNING, "already finished as Completed"),
        (S.FAILED, S.COMPLETED, "already finished as Failed"),
        (S.CANCELLING, S.RUNNING, "being cancelled"),
        (None, S.COMPLETED, "must start as"),
        (S.SCHEDULED, S.COMPLETED, "cannot become COMPLETED"),
    ],
)
def test_refused_transitions_say_why(current: S | None, proposed: S, reason: str) -> None:
    decision = decide(current, current and current.value.title(), proposed, "X")
    assert not decision.accept
    assert decision.reason is not None and reason in decision.reason


def test_same_state_twice_is_an_unchanged_accept() -> None:
    decision = decide(S.COMPLETED, "Completed", S.COMPLETED, "Completed")
    assert decision.accept and decision.unchanged


def test_only_the_lease_holder_may_start_a_claimed_run() -> None:
    holder, other = uuid.uuid4(), uuid.uuid4()
    assert decide(
        S.PENDING, "Pending", S.RUNNING, "Running", holder=holder, requester=holder
    ).accept
    refused = decide(S.PENDING, "Pending", S.RUNNING, "Running", holder=holder, requester=other)
    assert not refused.accept and "another worker" in (refused.reason or "")
    anonymous = decide(S.PENDING, "Pending", S.RUNNING, "Running", holder=holder)
    assert not anonymous.accept


def test_force_overrides_the_rules() -> None:
    assert decide(S.COMPLETED, "Completed", S.RUNNING, "Running", force=True).accept


def test_a_running_attempt_owns_its_run_only_while_its_worker_holds_it_and_it_is_not_pending() -> (
    None
):
    # The question a worker's flow process asks every lease / 3 s (issue 20).
    mine, other = uuid.uuid4(), uuid.uuid4()
    assert lease_refusal(mine, mine, S.RUNNING) is None
    assert lease_refusal(mine, mine, S.CANCELLING) is None
    assert lease_refusal(mine, mine, S.SCHEDULED) is None  # waiting for its in-process retry
    assert lease_refusal(None, mine, S.SCHEDULED) == (
        f"worker {mine} no longer holds the run (its lease expired)"
    )
    assert lease_refusal(other, mine, S.RUNNING) == (
        f"the run is held by another worker ({other}), not {mine}"
    )
    # Rescued, then claimed again by the same worker: the old attempt is not the run's.
    assert "claimed again since this attempt started" in str(lease_refusal(mine, mine, S.PENDING))


def test_forcing_the_current_state_changes_nothing() -> None:
    forced = decide(S.FAILED, "Failed", S.FAILED, "Failed", force=True)
    assert forced.accept and forced.unchanged
