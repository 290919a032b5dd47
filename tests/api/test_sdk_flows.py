"""The SDK against a live API: flow runs, task runs, logs and subflows are recorded."""

from __future__ import annotations

import uuid

from headrace import flow, get_run_logger, task
from headrace.client import HeadraceClient


@task
def double(x: int) -> int:
    return x * 2


@task
def explode() -> None:
    raise ValueError("boom")


def test_flow_run_records_states_task_runs_and_logs(client: HeadraceClient) -> None:
    @flow(log_prints=True)
    def pipeline(n: int) -> int:
        get_run_logger().info("starting with %d", n)
        print("printed line")
        total = sum(double(i) for i in range(n))
        futures = double.map(range(3))
        return total + sum(f.result() for f in futures)

    state = pipeline(4, return_state=True)
    assert state.result() == 12 + 6

    runs = client.get_json("/flow_runs", params={"flow_name": "pipeline"})["items"]
    assert len(runs) == 1
    run = client.get_json(f"/flow_runs/{runs[0]['id']}")
    assert run["state_type"] == "COMPLETED"
    assert run["parameters"] == {"n": 4}
    assert [s["name"] for s in run["states"]] == ["Running", "Completed"]

    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    assert len(task_runs) == 7
    assert {t["state_type"] for t in task_runs} == {"COMPLETED"}
    assert sorted(t["name"] for t in task_runs)[:2] == ["double-0", "double-1"]

    logs = client.get_json(f"/flow_runs/{run['id']}/logs")["items"]
    messages = [line["message"] for line in logs]
    assert "starting with 4" in messages
    assert "printed line" in messages


def test_failed_flow_records_the_exception_and_reraises(client: HeadraceClient) -> None:
    @flow
    def failing() -> None:
        explode()

    try:
        failing()
    except ValueError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the flow's exception was not re-raised")

    run = client.get_json("/flow_runs", params={"flow_name": "failing"})["items"][0]
    assert run["state_type"] == "FAILED"
    assert run["state_message"].startswith("ValueError: boom")
    assert "Traceback" in run["state_message"]
    task_run = client.get_json(f"/flow_runs/{run['id']}/task_runs")[0]
    assert task_run["state_type"] == "FAILED"


def test_subflow_is_a_child_run_linked_to_a_parent_task_run(client: HeadraceClient) -> None:
    @flow
    def child(x: int) -> int:
        return double(x)

    @flow
    def parent() -> int:
        return child(5) + 1

    assert parent() == 11
    parent_run = client.get_json("/flow_runs", params={"flow_name": "parent"})["items"][0]
    children = client.get_json(f"/flow_runs/{parent_run['id']}/children")
    assert [c["flow_name"] for c in children] == ["child"]
    assert children[0]["state_type"] == "COMPLETED"
    parent_tasks = client.get_json(f"/flow_runs/{parent_run['id']}/task_runs")
    link = [t for t in parent_tasks if t["id"] == children[0]["parent_task_run_id"]]
    assert link and link[0]["task_key"] == "subflow:child"
    assert link[0]["state_type"] == "COMPLETED"
    assert uuid.UUID(children[0]["id"])
