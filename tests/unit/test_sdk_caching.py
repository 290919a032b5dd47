"""Cache policies and in-process caching (what works with no API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headrace import INPUTS, NONE, TASK_SOURCE, flow, task
from headrace.caching import CacheContext, CompoundCachePolicy
from headrace.exceptions import ResultTooLarge
from headrace.testing import RecordingBackend, recording_backend


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    with recording_backend() as backend:
        yield backend


def context(fn: object = len) -> CacheContext:
    return CacheContext("mod.fn", "fn", fn, None)  # type: ignore[arg-type]


def test_policies_add_up_and_none_adds_nothing() -> None:
    combined = INPUTS + TASK_SOURCE
    assert isinstance(combined, CompoundCachePolicy)
    assert repr(combined) == "INPUTS + TASK_SOURCE"
    assert NONE + INPUTS is INPUTS
    assert INPUTS + NONE is INPUTS
    assert NONE.compute_key(context(), {"x": 1}) is None
    key_1 = INPUTS.compute_key(context(), {"x": 1})
    assert key_1 == INPUTS.compute_key(context(), {"x": 1})
    assert key_1 != INPUTS.compute_key(context(), {"x": 2})
    # Different tasks never share entries by accident.
    other = CacheContext("mod.other", "other", len, None)
    assert key_1 != INPUTS.compute_key(other, {"x": 1})


def test_in_process_cache_hit_skips_the_function(recorded: RecordingBackend) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def compute(x: int) -> int:
        calls.append(x)
        return x * 10

    @flow
    def cached() -> list[int]:
        return [compute(1), compute(1), compute(2)]

    assert cached() == [10, 10, 20]
    assert calls == [1, 2]
    assert recorded.state_names("compute-1") == ["Cached"]


def test_a_result_over_the_size_limit_fails_with_a_clear_error(
    recorded: RecordingBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headrace.settings import client_settings

    monkeypatch.setenv("HEADRACE_RESULT_MAX_BYTES", "100")
    client_settings.cache_clear()

    @task(persist_result=True)
    def big() -> str:
        return "x" * 1000

    @flow
    def too_big() -> str:
        return big()

    with pytest.raises(ResultTooLarge, match="over the limit of 100 bytes"):
        too_big()
