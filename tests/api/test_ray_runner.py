"""RayTaskRunner on a real local Ray started by `ray.init()`: task runs executed in Ray worker
processes report to the API themselves, with retries, async tasks, futures passed between tasks
and a task's exception reaching the flow."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

from headrace import flow
from headrace.client import HeadraceClient
from headrace.task_runners.ray import RayTaskRunner
from tests.api.test_dask_runner import assert_recorded_by_the_workers, tasks_module

__all__ = ["tasks_module"]  # the fixture, shared with the Dask tests


def test_a_local_ray_runs_task_calls_in_its_worker_processes(
    client: HeadraceClient, tasks_module: ModuleType, tmp_path: Path
) -> None:
    remote = tasks_module
    runner = RayTaskRunner(
        init_kwargs={
            "num_cpus": 2,
            "include_dashboard": False,
            # The workers import the tasks by name: their module's folder is on their path.
            "runtime_env": {"env_vars": {"PYTHONPATH": str(tmp_path)}},
        }
    )

    @flow(task_runner=runner)
    def on_ray(marker: str) -> dict[str, Any]:
        pids = remote.where.map(range(2))
        doubled = remote.double.submit(pids[0])  # a future passed to another task
        failure = remote.broken.submit()
        try:
            failure.result()
        except KeyError as exc:
            error = repr(exc)
        return {
            "pids": pids.result(),
            "doubled": doubled.result(),
            "awaited": remote.later.submit(1).result(),
            "flaky": remote.flaky.submit(marker).result(),
            "error": error,
        }

    got = on_ray(str(tmp_path / "flaky.marker"))
    assert os.getpid() not in got["pids"]
    assert got["doubled"] == 2 * got["pids"][0]
    assert got["awaited"] == 101
    assert got["flaky"] == "second attempt"
    assert got["error"] == "KeyError('no such row')"

    assert_recorded_by_the_workers(client, "on-ray")
