"""Task calls: a task run handed to a task runner as a picklable call, whose final state comes
back; a task run keeps its identity (flow run, task key, dynamic key) across attempts."""

from __future__ import annotations

import concurrent.futures
import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from headrace import flow, task
from headrace.engine.task_call import TaskCall, run_call, task_run_id
from headrace.states import State
from headrace.task_runners import TaskRunner
from headrace.testing import RecordingBackend, recording_backend


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    with recording_backend() as backend:
        yield backend


@task(retries=2, tags=["math"])
def add(x: int, y: int) -> int:
    return x + y


class PicklingTaskRunner(TaskRunner):
    """Sends every call through pickle before running it, as a runner of another process does;
    keeps what it received."""

    def __init__(self) -> None:
        self.received: list[TaskCall] = []

    def duplicate(self) -> PicklingTaskRunner:
        return self

    def submit(self, call: TaskCall) -> concurrent.futures.Future[State[Any]]:
        travelled: TaskCall = pickle.loads(pickle.dumps(call))
        self.received.append(travelled)
        future: concurrent.futures.Future[State[Any]] = concurrent.futures.Future()
        state = pickle.loads(pickle.dumps(run_call(travelled)))
        future.set_result(state)
        return future


def test_a_task_pickles_by_reference_with_its_options() -> None:
    changed = add.with_options(retries=5, name="adder")
    data = pickle.dumps(changed)
    assert b"def add" not in data and len(data) < 1000
    copy = pickle.loads(data)
    assert copy.fn is add.fn and copy.retries == 5 and copy.name == "adder"
    assert copy.tags == frozenset({"math"}) and copy.task_key == add.task_key


def test_a_task_without_a_module_level_name_does_not_pickle() -> None:
    @task
    def local() -> None: ...

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(local)


def test_submitted_calls_travel_resolved_and_their_states_come_back(
    recorded: RecordingBackend,
) -> None:
    runner = PicklingTaskRunner()

    @flow(task_runner=runner, log_prints=True)
    def pipeline() -> int:
        first = add.submit(1, 2)
        second = add.submit(first, 10)  # an upstream future: resolved before the call leaves
        return second.result()

    assert pipeline() == 13
    first, second = runner.received
    assert second.parameters == {"x": 3, "y": 10}
    assert second.task_inputs == {"x": [first.task_run_id]}
    assert second.tags == ("math",) and second.context.log_prints
    assert second.task_run_id == task_run_id(second.flow_run_id, add.task_key, "1")
    assert recorded.state_names("add-1") == ["Pending", "Running", "Completed"]


def test_dynamic_keys_restart_with_each_attempt_so_a_task_run_keeps_its_id(
    recorded: RecordingBackend,
) -> None:
    attempts: list[int] = []
    ids: list[uuid.UUID] = []

    @task
    def step(n: int) -> int:
        from headrace import get_run_context

        ids.append(get_run_context().record.id)  # type: ignore[union-attr]
        return n

    @flow(retries=1)
    def twice() -> int:
        attempts.append(1)
        step(1)
        if len(attempts) == 1:
            step(2)
            raise RuntimeError("first attempt fails")
        return step.submit(3).result()

    assert twice() == 3
    # Attempt 1: step-0, step-1; attempt 2: step-0 (direct), step-1 (submitted) again.
    assert ids[2] == ids[0] and ids[3] == ids[1]
    assert recorded.state_names("step-0") == ["Running", "Completed"] * 2
    assert recorded.state_names("step-1") == [
        "Running",
        "Completed",
        "Pending",
        "Running",
        "Completed",
    ]
