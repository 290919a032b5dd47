"""Prefect 3's cache policies (`headrace.cache_policies`) against a real server: which calls
are Cached, checked once against Prefect 3.9 running the same script."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from headrace import cache_policies, flow, task
from headrace.cache_policies import DEFAULT, FLOW_PARAMETERS, INPUTS, NO_CACHE, CacheKeyFnPolicy
from headrace.client import HeadraceClient


@task
def plain(x: int) -> int:
    return x


@task(persist_result=True)
def persisted(x: int) -> int:
    return x


@task(cache_policy=NO_CACHE, persist_result=True)
def never_cached(x: int) -> int:
    return x


@task(cache_policy=INPUTS - "noise")
def without_noise(x: int, noise: int) -> int:
    return x + noise


@task(cache_policy=FLOW_PARAMETERS)
def per_flow_parameters(x: int) -> int:
    return x


@task(persist_result=True)
async def apersisted(x: int) -> int:
    await asyncio.sleep(0)
    return x


def names(task_: Any, *calls: tuple[Any, ...]) -> list[str]:
    """The state names of calling `task_` with each argument tuple, in order."""
    return [task_(*args, return_state=True).name for args in calls]


def run_states(client: HeadraceClient, flow_name: str) -> dict[str, str]:
    run = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"][0]
    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    assert all(t["state_type"] == "COMPLETED" for t in task_runs)
    return {t["name"]: t["state_name"] for t in task_runs}


def test_which_calls_are_cached_as_in_prefect(client: HeadraceClient) -> None:
    @flow
    def policies(seed: str) -> list[list[str]]:
        return [
            names(plain, (1,), (1,)),
            names(persisted, (1,), (1,)),
            names(never_cached, (1,), (1,)),
            names(without_noise, (1, 2), (1, 3), (2, 3)),
            names(per_flow_parameters, (1,), (2,)),
        ]

    seed = uuid.uuid4().hex  # a fresh flow parameter: nothing cached by an earlier test
    assert policies(seed) == [
        ["Completed", "Completed"],
        ["Completed", "Cached"],
        ["Completed", "Completed"],
        ["Completed", "Cached", "Completed"],
        ["Completed", "Cached"],
    ]
    states = run_states(client, "policies")
    assert states["persisted-1"] == "Cached" and states["plain-1"] == "Completed"

    # DEFAULT includes RUN_ID: a new flow run misses; FLOW_PARAMETERS: same parameters hit.
    assert policies(seed)[1:2] == [["Completed", "Cached"]]
    assert run_states(client, "policies")["per_flow_parameters-0"] == "Cached"


def test_a_persisted_async_task_is_cached_within_its_flow_run(client: HeadraceClient) -> None:
    calls: list[int] = []

    @task(persist_result=True)
    async def counted(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        return x * 2

    @flow
    async def async_defaults() -> list[int]:
        return [await counted(4), await counted(4), await apersisted(1), await apersisted(1)]

    assert asyncio.run(async_defaults()) == [8, 8, 1, 1]
    assert calls == [4]
    assert sorted(run_states(client, "async-defaults").values()) == [
        "Cached",
        "Cached",
        "Completed",
        "Completed",
    ]


def test_composed_policies_and_a_key_function_as_a_policy(client: HeadraceClient) -> None:
    def by_tenant(context: Any, parameters: dict[str, Any]) -> str:
        return str(parameters["tenant"])

    @task(cache_policy=CacheKeyFnPolicy(by_tenant) + cache_policies.RUN_ID)
    def per_tenant(tenant: str, page: int) -> str:
        return f"{tenant}:{page}"

    @flow
    def composed() -> list[str]:
        return [per_tenant("a", 1), per_tenant("a", 2), per_tenant("b", 3)]

    assert composed() == ["a:1", "a:1", "b:3"]
    assert sorted(run_states(client, "composed").values()) == ["Cached", "Completed", "Completed"]


def test_policy_algebra_matches_prefect() -> None:
    assert repr(DEFAULT) == "INPUTS + TASK_SOURCE + RUN_ID"
    assert repr(DEFAULT - "x") == "INPUTS - 'x' + TASK_SOURCE + RUN_ID"
    source = cache_policies.TASK_SOURCE
    assert source - "x" is source  # no inputs hashed: nothing to take out
    assert NO_CACHE + INPUTS is INPUTS and INPUTS + cache_policies.NONE is INPUTS
    with pytest.raises(TypeError, match="argument's name"):
        INPUTS - 3  # type: ignore[operator]


def test_a_key_function_sees_the_task_and_its_run_and_may_return_a_number(
    client: HeadraceClient,
) -> None:
    seen: list[str] = []

    def by_sum(context: Any, parameters: dict[str, Any]) -> int:
        seen.append(f"{context.task.name} {context.task_run.name} {context.task_run.flow_run_id}")
        return sum(parameters["nums"])

    @task(cache_key_fn=by_sum)
    def total(nums: list[int]) -> int:
        return sum(nums)

    @flow
    def sums() -> list[int]:
        return [total([1, 2]), total([3]), total([4])]

    assert sums() == [3, 3, 4]  # [3] sums to the key of [1, 2]: a hit, as in Prefect
    run = client.get_json("/flow_runs", params={"flow_name": "sums"})["items"][0]
    assert seen[0] == f"total total-0 {run['id']}"
    assert sorted(run_states(client, "sums").values()) == ["Cached", "Completed", "Completed"]
