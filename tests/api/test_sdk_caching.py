"""Task caching through the API: results kept in Postgres, hits across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from headrace import INPUTS, TASK_SOURCE, flow, task
from headrace.client import HeadraceClient

CALLS: list[int] = []


@task(cache_policy=INPUTS + TASK_SOURCE)
def square(x: int) -> int:
    CALLS.append(x)
    return x * x


def test_a_cache_hit_does_not_run_the_function_and_is_recorded(client: HeadraceClient) -> None:
    CALLS.clear()

    @flow
    def squares() -> list[int]:
        return [square(3), square(3), square(4)]

    assert squares() == [9, 9, 16]
    assert CALLS == [3, 4]
    run = client.get_json("/flow_runs", params={"flow_name": "squares"})["items"][0]
    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    assert sorted(t["state_name"] for t in task_runs) == ["Cached", "Completed", "Completed"]
    assert all(t["state_type"] == "COMPLETED" for t in task_runs)
    cached = next(t for t in task_runs if t["state_name"] == "Cached")
    assert cached["cache_key"]


SCRIPT = """
import sys
from headrace import flow, task, task_input_hash

@task(cache_key_fn=task_input_hash)
def expensive(x: int) -> dict:
    print("RAN", x)
    return {"value": x + 1}

@flow
def cached_flow(x: int) -> dict:
    return expensive(x)

print("RESULT", cached_flow(int(sys.argv[1]))["value"])
"""


def test_a_cache_hit_works_across_processes(api_url: str, tmp_path: Path) -> None:
    script = tmp_path / "cached.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "HEADRACE_API_URL": api_url}

    def run(x: int) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(x)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = run(1)
    second = run(1)
    assert "RAN 1" in first and "RESULT 2" in first
    assert "RAN" not in second and "RESULT 2" in second


def test_refresh_cache_and_expiration(api_url: str) -> None:
    ran: list[str] = []

    @task(cache_key_fn=lambda ctx, params: "fixed-key")
    def stamp(label: str) -> str:
        ran.append(label)
        return label

    @flow
    def stamps() -> list[str]:
        return [
            stamp("a"),
            stamp("b"),  # hit: the key ignores the input
            stamp.with_options(refresh_cache=True)("c"),  # recomputed and stored again
            stamp("d"),  # hits the refreshed entry
        ]

    assert stamps() == ["a", "a", "c", "c"]
    assert ran == ["a", "c"]

    @task(cache_key_fn=lambda ctx, params: "short-lived", cache_expiration=timedelta(0))
    def expired(label: str) -> str:
        ran.append(label)
        return label

    @flow
    def expiring() -> list[str]:
        return [expired("x"), expired("y")]

    assert expiring() == ["x", "y"]  # an expired entry is a miss


def test_an_unserialisable_result_completes_unstored_with_how_to_opt_in(
    client: HeadraceClient,
) -> None:
    class Thing:
        pass

    made: list[Thing] = []

    @task(cache_policy=INPUTS)
    def make() -> Thing:
        made.append(Thing())
        return made[-1]

    @flow
    def making() -> list[str]:
        return [make(return_state=True).name, make(return_state=True).name]  # type: ignore[call-arg]

    # As in Prefect 3, the runs complete; the result is not stored, so nothing is a cache hit.
    assert making() == ["Completed", "Completed"]
    assert len(made) == 2
    run = client.get_json("/flow_runs", params={"flow_name": "making"})["items"][0]
    logs = [e["message"] for e in client.get_json(f"/flow_runs/{run['id']}/logs")["items"]]
    assert any('result_serializer="pickle"' in line for line in logs), logs

    @task(cache_policy=INPUTS, result_serializer="pickle")
    def make_pickled() -> set[int]:
        return {1, 2}

    @flow
    def making_pickled() -> set[int]:
        return make_pickled()

    assert making_pickled() == {1, 2}


def test_results_api_rejects_bad_keys(client: HeadraceClient) -> None:
    from headrace.errors import ApiError, NotFound

    with pytest.raises(NotFound):
        client.get_json("/results/nothing-here")
    with pytest.raises(ApiError) as bad:
        client.request("PUT", "/results/bad key!", json={"serializer": "json", "data": "e30="})
    assert bad.value.status_code in (404, 422)
