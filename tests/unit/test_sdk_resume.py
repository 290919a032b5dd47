"""Resume from failure in one process: a flow's own retries do not run again the task runs that
completed in an earlier attempt, and say why when one must run again."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from headrace import flow, task
from headrace.testing import RecordingBackend, recording_backend
from headrace.transactions import transaction

executed: list[str] = []
attempts = {"n": 0}


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    executed.clear()
    attempts["n"] = 0
    with recording_backend() as backend:
        yield backend


@task
def step(i: int) -> int:
    executed.append(f"step {i}")
    if i == 3 and attempts["n"] == 1:
        raise FileNotFoundError("needed.txt")
    return i * 10


@task
def audit() -> str:
    executed.append("audit")
    return "ok"


@flow(retries=1, resume_from_failure=True)
def five() -> int:
    attempts["n"] += 1
    return sum(step(i) for i in range(5))


def test_own_retry_reuses_completed_task_runs(recorded: RecordingBackend) -> None:
    assert five() == 100
    # Steps 0-2 ran once; step 3 failed then ran; step 4 ran once.
    assert executed == [f"step {i}" for i in (0, 1, 2, 3, 3, 4)]
    assert recorded.state_names("step-0") == ["Running", "Completed", "Reused"]
    reused = recorded.task_states["step-0"][-1]
    assert reused.message == "reused from attempt 1"
    assert recorded.state_names("step-3")[-1] == "Completed"


@flow(retries=1)
def five_without_resume() -> int:
    attempts["n"] += 1
    return sum(step(i) for i in range(5))


def test_without_resume_a_retry_runs_everything_again(recorded: RecordingBackend) -> None:
    assert five_without_resume() == 100
    assert executed.count("step 0") == 2


@flow(retries=1, resume_from_failure=True)
def task_added() -> int:
    attempts["n"] += 1
    total = 0
    for i in range(5):
        if i == 3 and attempts["n"] == 2:
            # The fix added a task before the failed step: another task key, so the steps
            # keep their identities (task key + dynamic key) and are still matched.
            audit()
        total += step(i)
    return total


def test_a_task_added_before_the_failed_step(recorded: RecordingBackend) -> None:
    assert task_added() == 100
    assert executed == [*(f"step {i}" for i in range(4)), "audit", "step 3", "step 4"]
    assert [recorded.state_names(f"step-{i}")[-1] for i in range(3)] == ["Reused"] * 3
    assert recorded.state_names("audit-0") == ["Running", "Completed"]


@flow(retries=1, resume_from_failure=True)
def call_added() -> int:
    attempts["n"] += 1
    total = 0
    for i in range(5):
        if i == 1 and attempts["n"] == 2:
            # An extra call of `step` itself: each later call of `step` is now the n-th one
            # with other inputs than the n-th of attempt 1, so none is matched: they run.
            total += step(100)
        total += step(i)
    return total


def test_a_call_of_the_same_task_added_shifts_the_later_ones(recorded: RecordingBackend) -> None:
    assert call_added() == 1100
    assert executed == [
        *(f"step {i}" for i in range(4)),
        "step 100",
        *(f"step {i}" for i in range(1, 5)),
    ]
    assert recorded.state_names("step-0")[-1] == "Reused"
    rerun = recorded.task_states["step-1"]
    assert [s.name for s in rerun[-2:]] == ["Running", "Completed"]
    assert rerun[-2].message == (
        "completed in attempt 1 but no result of it is stored for these inputs: running it again"
    )
    assert rerun[-1].result() == 1000
    warning = "completed in attempt 1 but no result of it is stored for these inputs"
    assert any(warning in line for line in recorded.messages())


@task
def pair(i: int) -> tuple[int, int]:
    executed.append(f"pair {i}")
    if i == 1 and attempts["n"] == 1:
        raise RuntimeError("not yet")
    return (i, i)


@flow(retries=1, resume_from_failure=True)
def pairs_as_json() -> list[tuple[int, int]]:
    attempts["n"] += 1
    return [pair(i) for i in range(2)]


def test_a_result_json_cannot_keep_runs_again_and_says_why(recorded: RecordingBackend) -> None:
    assert pairs_as_json() == [(0, 0), (1, 1)]
    assert executed == ["pair 0", "pair 1", "pair 0", "pair 1"]
    completed = recorded.task_states["pair-0"][1]
    assert completed.name == "Completed"
    assert (
        completed.message is not None and "not kept for a retry from failure" in completed.message
    )
    assert 'result_serializer="pickle"' in completed.message
    rerun = recorded.task_states["pair-0"][2]
    assert rerun.name == "Running"
    assert rerun.message == (
        "completed in attempt 1 but no result of it is stored for these inputs: running it again"
    )


@flow(retries=1, resume_from_failure=True, result_serializer="pickle")
def pairs_pickled() -> list[tuple[int, int]]:
    attempts["n"] += 1
    return [pair(i) for i in range(2)]


def test_pickle_keeps_a_tuple_as_a_tuple(recorded: RecordingBackend) -> None:
    assert pairs_pickled() == [(0, 0), (1, 1)]
    assert executed == ["pair 0", "pair 1", "pair 1"]
    assert recorded.task_states["pair-0"][-1].result() == (0, 0)


@task
def lock(i: int) -> threading.Lock:
    executed.append(f"lock {i}")
    if i == 1 and attempts["n"] == 1:
        raise RuntimeError("not yet")
    return threading.Lock()


@flow(retries=1, resume_from_failure=True, result_serializer="pickle")
def locks() -> int:
    attempts["n"] += 1
    return len([lock(i) for i in range(2)])


def test_an_unpicklable_result_runs_again(recorded: RecordingBackend) -> None:
    assert locks() == 2
    assert executed == ["lock 0", "lock 1", "lock 0", "lock 1"]
    message = recorded.task_states["lock-0"][1].message
    assert message is not None and "cannot be pickled" in message


@task
def booked(i: int) -> int:
    executed.append(f"booked {i}")
    return i


@flow(retries=1, resume_from_failure=True)
def booking() -> int:
    attempts["n"] += 1
    with transaction():
        booked(1)
        if attempts["n"] == 1:
            raise RuntimeError("the transaction fails: booked(1) is rolled back")
    return 1


def test_a_rolled_back_task_run_is_not_reused(recorded: RecordingBackend) -> None:
    assert booking() == 1
    assert executed == ["booked 1", "booked 1"]
    assert recorded.state_names("booked-0")[-1] == "Completed"
