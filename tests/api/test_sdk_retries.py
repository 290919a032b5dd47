"""Flow and task retries against the API: every attempt is visible in the state history."""

from __future__ import annotations

from headrace import flow, task
from headrace.client import HeadraceClient


def test_flow_retries_are_recorded_attempt_by_attempt(client: HeadraceClient) -> None:
    attempts = {"flow": 0, "task": 0}

    @task(retries=2, retry_delay_seconds=[0, 0.01])
    def shaky() -> str:
        attempts["task"] += 1
        if attempts["task"] < 3:
            raise ConnectionError("flaky network")
        return "ok"

    @flow(retries=1, retry_delay_seconds=0)
    def retried() -> str:
        attempts["flow"] += 1
        if attempts["flow"] == 1:
            raise RuntimeError("first attempt fails")
        return shaky()

    assert retried() == "ok"
    run_id = client.get_json("/flow_runs", params={"flow_name": "retried"})["items"][0]["id"]
    run = client.get_json(f"/flow_runs/{run_id}")
    assert [s["name"] for s in run["states"]] == [
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert run["run_count"] == 2
    assert "first attempt fails" in run["states"][1]["message"]

    task_run = client.get_json(f"/flow_runs/{run_id}/task_runs")[0]
    assert task_run["run_count"] == 3
    history = client.get_json(f"/task_runs/{task_run['id']}")["states"]
    assert [s["name"] for s in history] == [
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert history[1]["type"] == "SCHEDULED" and history[2]["type"] == "RUNNING"
