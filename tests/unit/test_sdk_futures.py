"""submit, map, unmapped, wait, as_completed, futures as inputs, the thread pool runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from headrace import ThreadPoolTaskRunner, as_completed, flow, task, unmapped, wait
from headrace.testing import RecordingBackend, recording_backend


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    with recording_backend() as backend:
        yield backend


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_submit_returns_a_future_with_result_wait_and_state(recorded: RecordingBackend) -> None:
    @flow
    def submitting() -> int:
        future = add.submit(1, 2)
        future.wait()
        assert future.state.is_completed()
        return future.result()

    assert submitting() == 3


def test_map_with_unmapped_and_futures_as_inputs_recorded(recorded: RecordingBackend) -> None:
    @flow
    def mapping() -> list[int]:
        base = add.submit(1, 1)
        results = add.map([1, 2, 3], unmapped(base))
        return results.result()

    assert mapping() == [3, 4, 5]
    first = recorded.task_runs["add-0"]
    for name in ("add-1", "add-2", "add-3"):
        assert recorded.task_runs[name].task_inputs == {"y": [first.id]}


def test_map_refuses_iterables_of_different_lengths(recorded: RecordingBackend) -> None:
    @flow
    def uneven() -> None:
        add.map([1, 2], [1, 2, 3])

    with pytest.raises(ValueError, match="differ in length"):
        uneven()


def test_wait_and_as_completed(recorded: RecordingBackend) -> None:
    @flow
    def racing() -> list[float]:
        futures = [nap.submit(0.2), nap.submit(0.0)]
        done, not_done = wait(futures, timeout=5)
        assert len(done) == 2 and not not_done
        return [f.result() for f in as_completed(futures)]

    assert sorted(racing()) == [0.0, 0.2]

    @flow
    def in_order_of_finishing() -> list[float]:
        return [f.result() for f in as_completed([nap.submit(0.3), nap.submit(0.0)])]

    assert in_order_of_finishing() == [0.0, 0.3]


def test_thread_pool_max_workers_bounds_concurrency(recorded: RecordingBackend) -> None:
    lock = threading.Lock()
    counts = {"now": 0, "max": 0}

    @task
    def tracked(i: int) -> None:
        with lock:
            counts["now"] += 1
            counts["max"] = max(counts["max"], counts["now"])
        time.sleep(0.02)
        with lock:
            counts["now"] -= 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def bounded() -> None:
        tracked.map(range(8)).wait()

    bounded()
    assert counts["max"] == 2


def test_a_flow_waits_for_submitted_task_runs_before_finishing(
    recorded: RecordingBackend,
) -> None:
    @flow
    def fire_and_forget() -> None:
        nap.submit(0.1)

    fire_and_forget()
    assert recorded.task_states["nap-0"][-1].is_completed()
    assert recorded.flow_states[-1].is_completed()
