"""Prefect 3's run-time surface against a live API: `headrace.runtime`, run names, `on_running`
hooks, states returned as values, `run_deployment`. Expected values were checked once against
Prefect 3.9 (a script with `prefect` in its imports, run without a server)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from headrace import flow, runtime, tags, task
from headrace.client import HeadraceClient
from headrace.deployments import run_deployment
from headrace.exceptions import FlowRunWaitTimeout, NotOffered
from headrace.flow_runs import pause_flow_run, wait_for_flow_run
from headrace.states import Completed, Failed, State, StateType


def only_run(client: HeadraceClient, flow_name: str) -> dict[str, Any]:
    runs = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"]
    assert len(runs) == 1, runs
    detail: dict[str, Any] = client.get_json(f"/flow_runs/{runs[0]['id']}")
    return detail


def task_runs(client: HeadraceClient, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}


@task(task_run_name="double-{x}")
def double(x: int) -> dict[str, Any]:
    return {
        "id": runtime.task_run.id,
        "name": runtime.task_run.name,
        "run_count": runtime.task_run.run_count,
        "tags": runtime.task_run.tags,
        "flow_run_id": runtime.flow_run.id,
    }


def test_runtime_answers_inside_runs_and_is_empty_outside(client: HeadraceClient) -> None:
    assert runtime.flow_run.id is None
    assert runtime.flow_run.name is None
    assert runtime.flow_run.parameters == {}
    assert runtime.flow_run.tags == []
    assert runtime.flow_run.run_count == 0
    assert runtime.task_run.id is None
    assert runtime.task_run.tags == []
    assert runtime.deployment.id is None
    assert runtime.deployment.parameters == {}

    @flow(flow_run_name="nightly-{day}", tags=["etl"])
    def nightly(day: str) -> dict[str, Any]:
        with tags("inner"):
            inside_task = double(3)
        return {
            "id": runtime.flow_run.id,
            "name": runtime.flow_run.name,
            "flow_name": runtime.flow_run.flow_name,
            "parameters": runtime.flow_run.parameters,
            "tags": runtime.flow_run.tags,
            "run_count": runtime.flow_run.run_count,
            "scheduled": runtime.flow_run.scheduled_start_time,
            "deployment_id": runtime.deployment.id,
            "deployment_parameters": runtime.deployment.parameters,
            "task": inside_task,
        }

    seen = nightly("monday")
    run = only_run(client, "nightly")
    assert run["name"] == "nightly-monday"
    assert seen["id"] == run["id"]
    assert seen["name"] == "nightly-monday"
    assert seen["flow_name"] == "nightly"
    assert seen["parameters"] == {"day": "monday"}
    assert seen["tags"] == ["etl"]
    assert seen["run_count"] == 1
    assert seen["scheduled"] is not None
    assert seen["deployment_id"] is None
    assert seen["deployment_parameters"] == {"day": "monday"}
    inner = seen["task"]
    assert inner["name"] == "double-3"
    assert inner["run_count"] == 1
    assert inner["tags"] == ["etl", "inner"]
    assert inner["flow_run_id"] == run["id"]
    assert task_runs(client, run)["double-3"]["id"] == inner["id"]


def test_run_names_from_functions_and_with_options(client: HeadraceClient) -> None:
    @task
    def label() -> str | None:
        return runtime.task_run.name

    def name_from_runtime() -> str:
        return f"{runtime.flow_run.flow_name}-for-{runtime.flow_run.parameters['who']}"

    @flow(flow_run_name=name_from_runtime)
    def greet(who: str) -> tuple[str | None, str | None]:
        renamed = label.with_options(task_run_name=lambda: f"t-{runtime.task_run.parameters}")
        return label(), renamed()

    plain, renamed = greet("ada")
    run = only_run(client, "greet")
    assert run["name"] == "greet-for-ada"
    assert plain == "label-0"
    assert renamed == "t-{}"
    assert set(task_runs(client, run)) == {"label-0", "t-{}"}

    other = greet.with_options(flow_run_name="second-{who}", retries=1)
    assert other.retries == 1 and other.name == "greet"
    other("bob")
    names = {
        r["name"] for r in client.get_json("/flow_runs", params={"flow_name": "greet"})["items"]
    }
    assert names == {"greet-for-ada", "second-bob"}


def test_a_run_name_template_naming_a_missing_parameter_fails_before_the_run() -> None:
    @flow(flow_run_name="run-{nope}")
    def misnamed(x: int) -> int:
        return x

    with pytest.raises(ValueError, match=r"\{nope\}, which is not a parameter \(parameters: x\)"):
        misnamed(1)


def test_on_running_hooks_of_flows_and_tasks(client: HeadraceClient) -> None:
    calls: list[str] = []

    def flow_hook(f: Any, run: Any, state: State[Any]) -> None:
        calls.append(f"flow {f.name} {run.name} {state.name}")

    def task_hook(t: Any, run: Any, state: State[Any]) -> None:
        calls.append(f"task {t.name} {run.name} {state.name}")

    attempts = iter([ValueError("first"), None])

    @task(on_running=task_hook, retries=1)
    def flaky() -> int:
        error = next(attempts)
        if error:
            raise error
        return 1

    @flow(on_running=[flow_hook], flow_run_name="hooked")
    def hooked() -> int:
        return flaky()

    assert hooked() == 1
    assert calls == [
        "flow hooked hooked Running",
        "task flaky flaky-0 Running",
        "task flaky flaky-0 Retrying",
    ]


@task
def ok(x: int) -> int:
    return x


@task
def refuses() -> State[Any]:
    return Failed(message="task said no")


def test_a_task_returning_failed_gives_the_state_to_the_caller(client: HeadraceClient) -> None:
    @flow
    def tolerant() -> str:
        state = refuses()
        return f"{type(state).__name__} {state.type.value} {state.message}"

    assert tolerant() == "State FAILED task said no"
    run = only_run(client, "tolerant")
    assert run["state_type"] == "COMPLETED"
    assert task_runs(client, run)["refuses-0"]["state_type"] == "FAILED"


def test_returned_states_decide_the_flow_state(client: HeadraceClient) -> None:
    @flow
    def mixed() -> list[Any]:
        return [ok.submit(1), refuses.submit()]

    @flow
    def all_good() -> Any:
        return ok.map([1, 2])

    @flow
    def custom() -> State[Any]:
        return State(type="COMPLETED", name="Skipped", message="nothing to do", data=42)

    failed = mixed(return_state=True)
    assert (failed.type, failed.message) == (StateType.FAILED, "1/2 states failed.")
    with pytest.raises(Exception, match="task said no"):
        failed.result()
    assert only_run(client, "mixed")["state_message"] == "1/2 states failed."

    good = all_good(return_state=True)
    assert (good.type, good.message) == (StateType.COMPLETED, "All states completed.")
    assert [s.result() for s in good.result()] == [1, 2]

    skipped = custom(return_state=True)
    assert (skipped.name, skipped.result()) == ("Skipped", 42)
    run = only_run(client, "custom")
    assert (run["state_type"], run["state_name"]) == ("COMPLETED", "Skipped")
    assert Completed(data=7).result() == 7


def test_a_flow_returning_failed_raises_at_the_call(client: HeadraceClient) -> None:
    @flow
    def gives_up() -> State[Any]:
        return Failed(message="flow said no")

    with pytest.raises(Exception, match="flow said no"):
        gives_up()
    assert only_run(client, "gives-up")["state_type"] == "FAILED"


def test_prefect_keywords_headrace_does_not_offer_fail_in_one_line() -> None:
    with pytest.raises(NotOffered) as caught:

        @task(cache_result_in_memory=False)
        def kept() -> None: ...

    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "@task(cache_result_in_memory=...) is a Prefect feature headrace does not offer: "
        "see docs/migrating-from-prefect.md#not-supported"
    )
    with pytest.raises(RuntimeError, match=r"pause_flow_run\(\) can only be called inside a flow"):
        pause_flow_run()
    with pytest.raises(NotOffered, match="with_options"):
        ok.with_options(viz_return_value=1)


def test_run_deployment_creates_a_run_and_waits_within_a_timeout(
    client: HeadraceClient, queue_api: Any
) -> None:
    queue_api.pool("compat")
    queue_api.deploy("compat", name="daily", flow="etl", parameters={"day": "mon"})

    run = run_deployment("etl/daily", parameters={"day": "tue"}, timeout=0, tags=["ci"])
    assert run.state_type.value == "SCHEDULED"
    assert run.deployment_name == "daily"
    assert run.parameters == {"day": "tue"}
    assert run.tags == ["ci"]

    waited = run_deployment("etl/daily", timeout=0.5)
    assert waited.state_type.value == "SCHEDULED"  # no worker: still waiting, returned as is
    with pytest.raises(FlowRunWaitTimeout, match="still Scheduled"):
        asyncio.run(wait_for_flow_run(waited.id, timeout=0.2))

    async def from_async_code() -> Any:
        # In async code run_deployment is awaited, as in Prefect.
        return await run_deployment("etl/daily", timeout=0)

    assert asyncio.run(from_async_code()).state_type.value == "SCHEDULED"
    with pytest.raises(ValueError, match="'flow/deployment'"):
        run_deployment("daily")
    assert isinstance(run.id, uuid.UUID)


def test_async_flows_and_tasks_alike(client: HeadraceClient) -> None:
    calls: list[str] = []

    @task(task_run_name="fetch-{page}", on_running=lambda t, r, s: calls.append(r.name))
    async def fetch(page: int) -> State[Any] | int:
        if page == 2:
            return Failed(message=f"page {page} missing")
        return page

    @flow(flow_run_name="crawl-{site}", on_running=lambda f, r, s: calls.append(r.name))
    async def crawl(site: str) -> list[Any]:
        skipped = await fetch(2)
        assert isinstance(skipped, State) and skipped.is_failed()
        return [await fetch(1, return_state=True), await fetch(2, return_state=True)]

    final = asyncio.run(crawl("docs", return_state=True))  # type: ignore[call-arg]
    assert (final.type, final.message) == (StateType.FAILED, "1/2 states failed.")
    assert calls == ["crawl-docs", "fetch-2", "fetch-1", "fetch-2"]
    run = only_run(client, "crawl")
    assert (run["name"], run["state_type"]) == ("crawl-docs", "FAILED")


def test_run_contexts_answer_under_prefect_names(client: HeadraceClient) -> None:
    from headrace.context import FlowRunContext, TaskRunContext, get_run_context

    @task(task_run_name="inner")
    def which() -> str:
        ctx = TaskRunContext.get()
        assert ctx is not None
        return ctx.task_run.name

    @flow(flow_run_name="outer")
    def contexts() -> tuple[str, str]:
        ctx = get_run_context()
        assert isinstance(ctx, FlowRunContext) and ctx.flow_run is not None
        return ctx.flow_run.name, which()

    assert FlowRunContext.get() is None and TaskRunContext.get() is None
    assert contexts() == ("outer", "inner")


@flow
def extract() -> None: ...


@flow
def load(target: str = "db") -> None: ...


def test_deploy_several_flows_at_once(client: HeadraceClient, queue_api: Any) -> None:
    from headrace import deploy

    queue_api.pool("batch")
    made = deploy(
        extract.to_deployment("nightly"),
        load.to_deployment("nightly", parameters={"target": "lake"}, tags=["etl"]),
        work_pool_name="batch",
    )
    assert [(d.flow_name, d.name, d.work_pool_name) for d in made] == [
        ("extract", "nightly", "batch"),
        ("load", "nightly", "batch"),
    ]
    stored = client.get_json("/deployments/name/load/nightly")
    assert stored["parameters"] == {"target": "lake"}
    assert stored["entrypoint"] == "test_prefect_compat.py:load"
    with pytest.raises(NotOffered, match=r"headrace\.deploy\(image=\.\.\.\)"):
        deploy(extract.to_deployment("x"), work_pool_name="batch", image="etl:1")


def test_async_hooks_are_awaited_in_sync_and_async_flows(client: HeadraceClient) -> None:
    calls: list[str] = []

    async def noted(f: Any, run: Any, state: State[Any]) -> None:
        await asyncio.sleep(0)
        calls.append(f"{f.name} {state.name}")

    @flow(on_running=noted, on_completion=noted)
    def plain() -> None: ...

    @flow(on_running=noted, on_failure=noted)
    async def awaited() -> None:
        raise ValueError("no")

    plain()
    with pytest.raises(ValueError, match="no"):
        asyncio.run(awaited())
    assert calls == ["plain Running", "plain Completed", "awaited Running", "awaited Failed"]
