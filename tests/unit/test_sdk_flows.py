"""Flows and tasks in-process (no API): states, results, failures, hooks, subflows, async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from headrace import allow_failure, flow, task
from headrace.exceptions import ParameterError
from headrace.states import Completed, Failed, State
from headrace.testing import RecordingBackend, recording_backend


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    with recording_backend() as backend:
        yield backend


@task
def inc(x: int) -> int:
    return x + 1


@task
def fail(message: str = "boom") -> None:
    raise ValueError(message)


def test_a_task_outside_a_flow_is_its_function(recorded: RecordingBackend) -> None:
    assert inc(1) == 2
    assert recorded.task_states == {}


def test_a_flow_records_running_then_completed_and_returns(recorded: RecordingBackend) -> None:
    @flow
    def simple(x: int) -> int:
        return inc(inc(x))

    assert simple(1) == 3
    assert [s.name for s in recorded.flow_states] == ["Completed"]
    assert recorded.state_names("inc-0") == ["Running", "Completed"]
    assert recorded.state_names("inc-1") == ["Running", "Completed"]


def test_a_failing_flow_reraises_and_is_failed_with_the_traceback(
    recorded: RecordingBackend,
) -> None:
    @flow
    def failing() -> None:
        fail("bad input")

    with pytest.raises(ValueError, match="bad input"):
        failing()
    final = recorded.flow_states[-1]
    assert final.is_failed()
    assert final.message is not None
    assert final.message.startswith("ValueError: bad input")
    assert "Traceback" in final.message


def test_return_state_and_state_result(recorded: RecordingBackend) -> None:
    seen: list[State[Any]] = []

    @flow
    def states() -> tuple[State[Any], State[Any]]:
        ok, bad = inc(1, return_state=True), fail(return_state=True)  # type: ignore[call-arg]
        seen[:] = [ok, bad]
        return ok, bad

    final = states(return_state=True)  # type: ignore[call-arg]
    ok, bad = seen
    assert ok.is_completed() and ok.result() == 2
    assert bad.is_failed()
    with pytest.raises(ValueError, match="boom"):
        bad.result()
    assert isinstance(bad.result(raise_on_failure=False), ValueError)
    # Returned run states decide the flow's state, as in Prefect: one of two failed.
    assert recorded.flow_states[-1].is_failed()
    assert final.message == "1/2 states failed."
    with pytest.raises(ValueError, match="boom"):
        states()

    @flow
    def returns_state() -> State[Any]:
        return Failed("decided by the flow")

    final = returns_state(return_state=True)  # type: ignore[call-arg]
    assert final.is_failed() and final.message == "decided by the flow"
    assert Completed(5).result() == 5


def test_unhandled_failed_task_runs_leave_the_flow_completed_and_are_named_in_its_logs(
    recorded: RecordingBackend,
) -> None:
    """As in Prefect 3: the returned value decides; the failures nobody read are logged."""

    @flow
    def careless() -> str:
        fail.submit("first")
        fail.submit("second")
        return "done"

    state = careless(return_state=True)  # type: ignore[call-arg]
    assert state.is_completed() and state.result() == "done"
    warning = [m for m in recorded.messages() if "did not look at them" in m]
    assert len(warning) == 1
    assert "2 task run(s) failed" in warning[0]
    assert "'fail-0'" in warning[0] and "'fail-1'" in warning[0]


def test_allow_failure_passes_the_exception_downstream(recorded: RecordingBackend) -> None:
    @task
    def describe(value: Any) -> str:
        return type(value).__name__

    @flow
    def tolerant_ok() -> tuple[str, str]:
        broken = fail.submit()
        not_ready = describe.submit(broken)
        not_ready.wait()
        return describe(allow_failure(broken)), not_ready.state.name

    assert tolerant_ok() == ("ValueError", "NotReady")


def test_hooks_run_and_a_raising_hook_changes_nothing(recorded: RecordingBackend) -> None:
    seen: list[str] = []

    def on_done(flow_: Any, run: Any, state: State[Any]) -> None:
        seen.append(f"flow {state.name}")
        raise RuntimeError("hook bug")

    def on_task_failure(task_: Any, run: Any, state: State[Any]) -> None:
        seen.append(f"task {run.name} {state.name}")

    failing_task = fail.with_options(on_failure=[on_task_failure])

    @flow(on_completion=[on_done], on_failure=[on_done])
    def hooked() -> int:
        failing_task(return_state=True)  # type: ignore[call-arg]
        return 1

    assert hooked() == 1
    assert seen == ["task fail-0 Failed", "flow Completed"]
    assert recorded.flow_states[-1].is_completed()
    assert any("hook 'on_done' raised" in m for m in recorded.messages())


def test_parameters_are_coerced_and_bad_ones_fail_before_any_code(
    recorded: RecordingBackend,
) -> None:
    ran: list[Any] = []

    @flow
    def typed(count: int, ratio: float = 0.5) -> tuple[int, float]:
        ran.append(count)
        return count, ratio

    assert typed("3") == (3, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="parameter 'count'"):
        typed("three")  # type: ignore[arg-type]
    assert ran == [3]
    assert recorded.flow_states[-1].is_failed()

    @flow(validate_parameters=False)
    def untyped(count: int) -> Any:
        return count

    assert untyped("three") == "three"  # type: ignore[arg-type]


def test_parameter_schema_has_types_defaults_and_docstring_descriptions() -> None:
    @flow
    def documented(day: str, retries: int = 3) -> None:
        """Load one day.

        Args:
            day: The day to load, as YYYY-MM-DD.
            retries: How many times to try
                before giving up.
        """

    schema = documented.parameter_schema
    assert schema["required"] == ["day"]
    assert schema["properties"]["day"]["type"] == "string"
    assert schema["properties"]["day"]["description"] == "The day to load, as YYYY-MM-DD."
    assert schema["properties"]["retries"]["default"] == 3
    assert schema["properties"]["retries"]["description"] == (
        "How many times to try before giving up."
    )


def test_a_subflow_is_a_task_run_of_its_parent(recorded: RecordingBackend) -> None:
    @flow
    def child(x: int) -> int:
        return inc(x)

    @flow
    def parent() -> int:
        return child(1) + child(2)

    assert parent() == 5
    assert recorded.state_names("child-0") == ["Running", "Completed"]
    assert recorded.task_runs["child-0"].task_key == "subflow:child"
    assert "child-1" in recorded.task_runs


def test_async_flows_and_tasks_mix_with_sync_ones(recorded: RecordingBackend) -> None:
    @task
    async def slow_double(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * 2

    @flow
    async def mixed(x: int) -> list[int]:
        together = await asyncio.gather(slow_double(x), slow_double(x + 1))
        submitted = slow_double.submit(10).result()
        return [*together, inc(x), submitted]

    assert asyncio.run(mixed(1)) == [2, 4, 2, 20]
    assert recorded.flow_states[-1].is_completed()
    assert recorded.state_names("slow_double-2")[-1] == "Completed"


def test_every_exported_name_is_the_object_even_after_the_engine_loaded_its_modules() -> None:
    # A submodule named like an export (it was headrace/tags.py) replaces the export on the
    # package once imported, which the engine does before a deployed flow's file is loaded.
    import subprocess
    import sys

    script = (
        "import headrace, headrace.engine.flow_engine, headrace.engine.task_engine, types\n"
        "bad = [n for n in headrace.__all__\n"
        "       if isinstance(getattr(headrace, n), types.ModuleType)]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_flow_name_that_could_not_be_read_back_is_refused_at_decoration() -> None:
    with pytest.raises(ValueError, match=r"@flow\(name='etl/v2'\): a name cannot contain '/'"):

        @flow(name="etl/v2")
        def etl() -> None: ...

    assert flow(name="  etl-v2  ")(lambda: None).name == "etl-v2"
