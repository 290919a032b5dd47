"""Resume from failure through the Dask runner: a chain of 100 tasks on a LocalCluster of two
worker processes fails at task 90 because a file is missing; the failed task's hook creates it;
the flow's own retry resumes: tasks 1-89 are not executed again, 90-100 run on the workers."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from headrace import flow
from headrace.client import HeadraceClient
from headrace.task_runners import DaskTaskRunner

# Tasks the Dask workers import by name: a module on their path.
RESUME_TASKS = """
from pathlib import Path
from headrace import task

def create_the_file(task, task_run, state) -> None:
    # The user's fix, made here so that the flow's own retry finds the file.
    Path(state.message.split("'")[1]).write_text("here")

@task(on_failure=[create_the_file])
def step(i: int, after: int, folder: str) -> int:
    if i == 90:
        (Path(folder) / "needed.txt").read_text()
    with (Path(folder) / "executed.txt").open("a") as out:
        out.write(f"{i}\\n")
    return i
"""


@pytest.fixture
def resume_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    (tmp_path / "resume_tasks.py").write_text(textwrap.dedent(RESUME_TASKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("resume_tasks", None)
    return importlib.import_module("resume_tasks")


def test_a_flow_on_dask_resumes_from_the_failed_step(
    client: HeadraceClient, resume_tasks: ModuleType, tmp_path: Path
) -> None:
    remote = resume_tasks
    runner = DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}
    )

    @flow(retries=1, resume_from_failure=True, task_runner=runner)
    def chain_on_dask(folder: str) -> int:
        previous = remote.step.submit(1, 0, folder)
        for i in range(2, 101):
            previous = remote.step.submit(i, previous, folder)
        result: int = previous.result()
        return result

    assert chain_on_dask(str(tmp_path)) == 100
    executed = (tmp_path / "executed.txt").read_text().split()
    assert executed == [str(i) for i in range(1, 101)]  # each task executed once

    run = client.get_json("/flow_runs", params={"flow_name": "chain-on-dask"})["items"][0]
    assert run["state_type"] == "COMPLETED" and run["run_count"] == 2
    runs = {t["name"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}
    assert [runs[f"step-{i}"]["state_name"] for i in range(89)] == ["Reused"] * 89
    assert runs["step-0"]["state_message"] == "reused from attempt 1"
    assert [runs[f"step-{i}"]["state_name"] for i in range(89, 100)] == ["Completed"] * 11
