"""Futures nested anywhere in a task's arguments are waited for and replaced by their results
(recorded through a real server); `quote`, `opaque`, `allow_failure`, `wait_for` and `unmapped`
change that for one argument."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict, namedtuple
from typing import Any

import pydantic

from headrace import flow, task
from headrace.client import HeadraceClient
from headrace.futures import HeadraceFuture
from headrace.utilities.annotations import allow_failure, opaque, quote, unmapped


@dataclasses.dataclass
class Box:
    item: Any
    label: str = "box"


@dataclasses.dataclass(frozen=True)
class FrozenBox:
    item: Any


class Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    item: Any
    count: int = 0


Pair = namedtuple("Pair", "left right")


@task
def number(x: int) -> int:
    return x


@task
def boom() -> int:
    raise ValueError("upstream broke")


@task
def echo(value: Any) -> Any:
    return value


@task
async def aecho(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


def task_runs(client: HeadraceClient, flow_name: str) -> dict[str, dict[str, Any]]:
    run = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"][0]
    return {t["name"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}


def nested_shapes(fut: Any) -> list[Any]:
    return [
        Box(fut),
        FrozenBox(fut),
        Model(item=fut, count=2),
        {"a": [fut, (fut, {fut})]},
        OrderedDict(k=fut),
        Pair(fut, 1),
        frozenset([fut]),
        [[[[[[fut]]]]]],
    ]


EXPECTED = [
    Box(7),
    FrozenBox(7),
    Model(item=7, count=2),
    {"a": [7, (7, {7})]},
    OrderedDict(k=7),
    Pair(7, 1),
    frozenset([7]),
    [[[[[[7]]]]]],
]


def test_futures_nested_in_any_container_are_resolved_in_a_sync_flow(
    client: HeadraceClient,
) -> None:
    @flow
    def nested_sync() -> list[Any]:
        fut = number.submit(7)
        direct = [echo(shape) for shape in nested_shapes(fut)]
        submitted = [echo.submit(shape).result() for shape in nested_shapes(fut)]
        assert submitted == direct
        return direct

    got = nested_sync()
    assert got == EXPECTED
    assert [type(v) for v in got] == [type(v) for v in EXPECTED]
    runs = task_runs(client, "nested-sync")
    upstream = runs["number-0"]["id"]
    echoes = [r for name, r in runs.items() if name.startswith("echo-")]
    assert len(echoes) == 2 * len(EXPECTED)
    assert all(r["state_name"] == "Completed" for r in runs.values())
    # Each echo run records the upstream it waited for (the edge the dashboard draws).
    for run in echoes:
        assert run["task_inputs"]["value"] == [{"id": upstream}], run["name"]


def test_futures_nested_in_any_container_are_resolved_in_an_async_flow(
    client: HeadraceClient,
) -> None:
    @flow
    async def nested_async() -> list[Any]:
        fut = aecho.submit(7)
        return [await aecho(shape) for shape in nested_shapes(fut)]

    assert asyncio.run(nested_async()) == EXPECTED
    runs = task_runs(client, "nested-async")
    assert all(r["state_name"] == "Completed" for r in runs.values())


def test_a_failed_future_inside_a_dataclass_stops_the_downstream_task(
    client: HeadraceClient,
) -> None:
    @flow
    def failed_inside() -> tuple[str, Any]:
        broken = boom.submit()
        not_ready = echo(Box(broken), return_state=True)  # type: ignore[call-arg]
        tolerant = echo(Box(allow_failure(broken)))
        return not_ready.name, tolerant

    name, tolerant = failed_inside(return_state=True).result(raise_on_failure=False)  # type: ignore[call-arg]
    assert name == "NotReady"
    assert isinstance(tolerant.item, ValueError)
    runs = task_runs(client, "failed-inside")
    assert runs["echo-0"]["state_name"] == "NotReady"
    assert runs["echo-0"]["state_type"] == "PENDING"  # as in Prefect 3
    assert runs["echo-1"]["state_name"] == "Completed"


def test_quote_passes_the_value_untouched_and_opaque_does_not_search_inside(
    client: HeadraceClient,
) -> None:
    @flow
    def annotated() -> list[str]:
        fut = number.submit(3)
        fut.wait()
        return [
            type(echo(quote(fut))).__name__,
            type(echo(quote([fut]))[0]).__name__,
            repr(echo(opaque(fut))),
            type(echo(opaque(Box(fut))).item).__name__,
            repr(echo(Box(fut)).item),
        ]

    assert annotated() == ["HeadraceFuture", "HeadraceFuture", "3", "HeadraceFuture", "3"]
    runs = task_runs(client, "annotated")
    # A quoted future is no input: no edge is recorded for it.
    assert runs["echo-0"]["task_inputs"] == {}
    assert runs["echo-2"]["task_inputs"]["value"] == [{"id": runs["number-0"]["id"]}]


def test_wait_for_orders_runs_and_unmapped_is_passed_whole(client: HeadraceClient) -> None:
    order: list[str] = []

    @task
    def slow() -> None:
        import time

        time.sleep(0.2)
        order.append("slow")

    @task
    def after(values: list[int], item: int) -> int:
        order.append("after")
        return sum(values) + item

    @flow
    def ordered() -> list[int]:
        first = slow.submit()
        mapped = after.map(unmapped([1, 2]), [10, 20], wait_for=[first])
        return mapped.result()

    assert ordered() == [13, 23]
    assert order == ["slow", "after", "after"]
    runs = task_runs(client, "ordered")
    assert runs["after-0"]["task_inputs"]["wait_for"] == [{"id": runs["slow-0"]["id"]}]


def test_a_future_in_a_submitted_call_is_awaited_before_the_call_is_launched(
    client: HeadraceClient,
) -> None:
    @flow
    def chained() -> int:
        fut = number.submit(5)
        downstream: HeadraceFuture[Any] = echo.submit(Model(item=fut))
        return downstream.result().item  # type: ignore[no-any-return]

    assert chained() == 5
