"""Retries (delays, backoff, jitter, conditions) and timeouts (main thread, pool, async)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from headrace import exponential_backoff, flow, task
from headrace.exceptions import RunTimeout
from headrace.retries import retry_delay
from headrace.testing import RecordingBackend, recording_backend


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    with recording_backend() as backend:
        yield backend


def test_retry_delays_numbers_lists_backoff_and_jitter() -> None:
    assert retry_delay(2, 3, 0) == 2
    assert [retry_delay([1, 10, 60], 3, n) for n in range(4)] == [1, 10, 60, 60]
    backoff = exponential_backoff(backoff_factor=0.5)
    assert [retry_delay(backoff, 3, n) for n in range(3)] == [0.5, 1.0, 2.0]
    jittered = [retry_delay(10, 1, 0, jitter_factor=0.5) for _ in range(50)]
    assert all(10 <= d <= 15 for d in jittered) and len(set(jittered)) > 1
    with pytest.raises(ValueError, match="retries"):
        task(retries=-1)(lambda: None)


def test_each_attempt_is_visible_and_run_count_grows(recorded: RecordingBackend) -> None:
    calls = []

    @task(retries=3, retry_delay_seconds=exponential_backoff(0.001))
    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return len(calls)

    @flow
    def retrying() -> int:
        return flaky()

    assert retrying() == 3
    assert recorded.state_names("flaky-0") == [
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert recorded.task_runs["flaky-0"].run_count == 3
    waits = [s for s in recorded.task_states["flaky-0"] if s.name == "AwaitingRetry"]
    assert all(s.type.value == "SCHEDULED" for s in waits)


def test_retry_condition_fn_can_refuse_a_retry(recorded: RecordingBackend) -> None:
    def only_connection_errors(task_: Any, run: Any, state: Any) -> bool:
        return isinstance(state.exception, ConnectionError)

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def broken() -> None:
        raise KeyError("not worth retrying")

    @flow
    def conditional() -> None:
        broken()

    with pytest.raises(KeyError):
        conditional()
    assert recorded.task_runs["broken-0"].run_count == 1


def test_a_main_thread_timeout_interrupts_sleep_and_says_which(
    recorded: RecordingBackend,
) -> None:
    @task(timeout_seconds=0.1)
    def sleepy() -> None:
        time.sleep(5)

    @flow
    def waiting() -> None:
        sleepy()

    started = time.monotonic()
    with pytest.raises(RunTimeout, match=r"Task run 'sleepy-0' exceeded its timeout of 0.1"):
        waiting()
    assert time.monotonic() - started < 2
    final = recorded.task_states["sleepy-0"][-1]
    assert final.name == "TimedOut" and final.type.value == "FAILED"


def test_a_timeout_in_a_pool_thread_and_a_timed_out_attempt_is_retried(
    recorded: RecordingBackend,
) -> None:
    attempts: list[int] = []

    @task(timeout_seconds=0.2, retries=1)
    def busy() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            while True:  # pure-Python busy loop: interrupted between bytecodes
                time.sleep(0.01)
        return "second attempt"

    @flow
    def pooled() -> str:
        return busy.submit().result()

    assert pooled() == "second attempt"
    names = recorded.state_names("busy-0")
    assert names[:5] == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert "TimedOut" in (recorded.task_states["busy-0"][2].message or "")


def test_async_task_and_flow_timeouts(recorded: RecordingBackend) -> None:
    @task(timeout_seconds=0.05)
    async def stuck() -> None:
        await asyncio.sleep(5)

    @flow(timeout_seconds=0.3)
    async def outer() -> str:
        state = await stuck(return_state=True)  # type: ignore[call-arg]
        assert state.name == "TimedOut"
        await asyncio.sleep(5)
        return "never"

    with pytest.raises(RunTimeout, match=r"Flow run .* exceeded its timeout of 0\.3"):
        asyncio.run(outer())
    assert recorded.flow_states[-1].name == "TimedOut"


def test_a_sync_flow_timeout_with_retries(recorded: RecordingBackend) -> None:
    attempts: list[int] = []

    @flow(timeout_seconds=0.1, retries=1)
    def sometimes_slow() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(5)
        return len(attempts)

    assert sometimes_slow() == 2
    assert [s.name for s in recorded.flow_states] == ["AwaitingRetry", "Retrying", "Completed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_flow_timeout_covers_waiting_for_its_submitted_task_runs(
    recorded: RecordingBackend, kind: str
) -> None:
    @task
    def slow() -> str:
        time.sleep(1.0)
        return "late"

    @flow(timeout_seconds=0.2)
    def submits() -> None:
        slow.submit()  # not waited for in the body: the flow waits for it as it ends

    @flow(timeout_seconds=0.2)
    async def asubmits() -> None:
        slow.submit()

    if kind == "sync":
        state = submits(return_state=True)  # type: ignore[call-arg]
    else:
        state = asyncio.run(asubmits(return_state=True))  # type: ignore[call-arg]
    assert state.name == "TimedOut"
    assert "exceeded its timeout of 0.2" in (state.message or "")
    assert recorded.flow_states[-1].name == "TimedOut"
