"""Task calls that travel: task runs executed in other processes report to the API themselves,
and a task run reached again by a new attempt of its flow run keeps its identity."""

from __future__ import annotations

import importlib
import os
import textwrap
import uuid
from pathlib import Path

import pytest

from headrace import ProcessPoolTaskRunner, flow, task
from headrace.client import HeadraceClient
from headrace.engine.task_call import task_run_id

# Tasks a worker process imports by name: a module on the path the pool's processes inherit.
REMOTE_TASKS = """
import os
from headrace import task

@task(log_prints=True)
def where(x: int) -> int:
    print(f"task {x} runs in another process")
    return os.getpid()

@task(retries=1)
def plus_one(x: int) -> int:
    return x + 1
"""


def test_task_calls_run_in_other_processes_and_report_their_states(
    client: HeadraceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "remote_tasks.py").write_text(textwrap.dedent(REMOTE_TASKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    remote = importlib.import_module("remote_tasks")

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def spread() -> tuple[list[int], int]:
        pids = remote.where.map(range(2))
        after = remote.plus_one.submit(pids[0])  # resolved on the flow side, then sent
        return pids.result(), after.result()

    pids, after = spread()
    assert os.getpid() not in pids
    assert after == pids[0] + 1

    run = client.get_json("/flow_runs", params={"flow_name": "spread"})["items"][0]
    assert run["state_type"] == "COMPLETED"
    task_runs = {t["name"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}
    assert set(task_runs) == {"where-0", "where-1", "plus_one-0"}
    for name, task_run in task_runs.items():
        assert task_run["state_type"] == "COMPLETED", name
        assert task_run["run_count"] == 1 and task_run["end_time"] is not None
        history = client.get_json(f"/task_runs/{task_run['id']}")["states"]
        assert [s["name"] for s in history] == ["Pending", "Running", "Completed"]
    assert task_runs["plus_one-0"]["task_inputs"] == {"x": [{"id": task_runs["where-0"]["id"]}]}
    logs = client.get_json(f"/flow_runs/{run['id']}/logs")["items"]
    lines = {(e["task_run_id"], e["message"]) for e in logs}
    assert (task_runs["where-0"]["id"], "task 0 runs in another process") in lines


def test_a_new_attempt_reports_the_same_task_runs_again(client: HeadraceClient) -> None:
    attempts: list[int] = []

    @task
    def load(part: int) -> int:
        return part

    @flow(retries=1, retry_delay_seconds=0)
    def reloaded() -> int:
        attempts.append(1)
        total = load(1) + load.submit(2).result()
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails after its task runs")
        return total

    assert reloaded() == 3
    run = client.get_json("/flow_runs", params={"flow_name": "reloaded"})["items"][0]
    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    assert sorted(t["name"] for t in task_runs) == ["load-0", "load-1"]
    flow_run_id = uuid.UUID(run["id"])
    for task_run in task_runs:
        assert task_run["id"] == str(
            task_run_id(flow_run_id, task_run["task_key"], task_run["dynamic_key"])
        )
        assert task_run["state_type"] == "COMPLETED" and task_run["run_count"] == 1
    submitted = next(t for t in task_runs if t["name"] == "load-1")
    history = client.get_json(f"/task_runs/{submitted['id']}")["states"]
    assert [s["name"] for s in history] == ["Pending", "Running", "Completed"] * 2


def test_a_report_under_another_id_takes_the_identity_and_keeps_the_old_row(
    client: HeadraceClient,
) -> None:
    @flow
    def once() -> int:
        return task(_identity)(1)  # type: ignore[no-any-return]

    once()
    run = client.get_json("/flow_runs", params={"flow_name": "once"})["items"][0]
    old = client.get_json(f"/flow_runs/{run['id']}/task_runs")[0]
    # What an SDK that made random ids reports for a new attempt: the same identity.
    report = {
        "id": str(uuid.uuid4()),
        "flow_run_id": run["id"],
        "name": old["name"],
        "task_key": old["task_key"],
        "dynamic_key": old["dynamic_key"],
        "tags": [],
        "run_count": 1,
        "task_inputs": {},
        "states": [],
    }
    client.request("POST", "/task_runs/batch", json={"task_runs": [report]})
    rows = {t["id"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}
    assert rows[report["id"]]["dynamic_key"] == old["dynamic_key"]
    assert rows[old["id"]]["dynamic_key"] == f"{old['dynamic_key']}~{old['id']}"
    assert rows[old["id"]]["state_type"] == "COMPLETED"


def _identity(x: int) -> int:
    return x


def test_two_ids_with_one_identity_in_one_batch_are_both_kept(client: HeadraceClient) -> None:
    """Found by schemathesis: such a batch answered 500 (the identity's unique index)."""
    run = client.request("POST", "/flow_runs", json={"flow_name": "twins"}).json()
    twin = {"flow_run_id": run["id"], "name": "t", "task_key": "k", "dynamic_key": "0"}
    first, second = ({**twin, "id": str(uuid.uuid4())} for _ in range(2))
    answer = client.request("POST", "/task_runs/batch", json={"task_runs": [first, second]})
    assert answer.status_code == 201
    rows = {t["id"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}
    assert rows[second["id"]]["dynamic_key"] == "0"
    assert rows[first["id"]]["dynamic_key"] == f"0~{first['id']}"
