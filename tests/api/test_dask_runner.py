"""DaskTaskRunner on real Dask clusters: a LocalCluster of worker processes, and a scheduler and
workers started as separate processes with the `dask` command (the "other host" case, over TCP on
loopback). Task runs executed there report to the API themselves; a worker killed mid-task leaves
its task run Crashed and the task's retry finishes the flow run. A flow on Dask resumes from
failure: its retry does not execute again the tasks that completed."""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from headrace import flow
from headrace.client import HeadraceClient
from headrace.futures import as_completed, wait
from headrace.task_runners.dask import DaskTaskRunner

# Tasks the Dask workers import by name: a module on their path.
DASK_TASKS = """
import asyncio
import os
import time
from pathlib import Path
from headrace import INPUTS, task

@task(cache_policy=INPUTS)
def counted(x: int, log: str) -> int:
    with open(log, "a") as f:
        f.write("ran\\n")
    return x * 10

@task(log_prints=True)
def where(x: int) -> int:
    print(f"task {x} runs on a worker")
    return os.getpid()

@task
def double(x: int) -> int:
    return 2 * x

@task
async def later(x: int) -> int:
    await asyncio.sleep(0.01)
    return x + 100

@task(retries=2, retry_delay_seconds=0)
def flaky(marker: str) -> str:
    # Fails on its first attempt only: the marker file remembers it across processes.
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise ValueError("first attempt fails")
    return "second attempt"

@task
def broken() -> None:
    raise KeyError("no such row")

@task(timeout_seconds=0.5)
def slow() -> None:
    time.sleep(5)

@task(retries=1, retry_delay_seconds=0)
def dies_once(marker: str) -> int:
    # The first attempt leaves its worker's pid and waits to be killed with its worker.
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        time.sleep(60)
    return os.getpid()

def create_the_file(task, task_run, state) -> None:
    # The user's fix, made by a hook so that the flow's own retry finds the file.
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
def tasks_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    (tmp_path / "dask_tasks.py").write_text(textwrap.dedent(DASK_TASKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("dask_tasks", None)
    return importlib.import_module("dask_tasks")


def task_runs_of(client: HeadraceClient, flow_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    run = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"][0]
    runs = {t["name"]: t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")}
    return run, runs


def state_names(client: HeadraceClient, task_run: dict[str, Any]) -> list[str]:
    return [s["name"] for s in client.get_json(f"/task_runs/{task_run['id']}")["states"]]


def assert_recorded_by_the_workers(client: HeadraceClient, flow_name: str) -> None:
    """What the API holds after a flow of the tasks above: every state, edge and log line
    reported from the worker processes."""
    run, runs = task_runs_of(client, flow_name)
    assert run["state_type"] == "COMPLETED"
    assert state_names(client, runs["where-0"]) == ["Pending", "Running", "Completed"]
    assert state_names(client, runs["flaky-0"])[-3:] == ["AwaitingRetry", "Retrying", "Completed"]
    assert runs["broken-0"]["state_type"] == "FAILED"
    assert runs["double-0"]["task_inputs"] == {"x": [{"id": runs["where-0"]["id"]}]}
    logs = client.get_json(f"/flow_runs/{run['id']}/logs")["items"]
    lines = {(e["task_run_id"], e["message"]) for e in logs}
    assert (runs["where-1"]["id"], "task 1 runs on a worker") in lines


def local_cluster_runner() -> DaskTaskRunner:
    """A LocalCluster of two worker processes, one thread each."""
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}
    )


def test_a_local_cluster_runs_task_calls_in_its_worker_processes(
    client: HeadraceClient, tasks_module: ModuleType, tmp_path: Path
) -> None:
    remote = tasks_module
    runner = local_cluster_runner()

    @flow(task_runner=runner)
    def on_dask(marker: str) -> dict[str, Any]:
        pids = remote.where.map(range(4))
        doubled = remote.double.submit(pids[0])  # a future passed to another task
        awaited = remote.later.map([1, 2])
        wait(awaited)
        finished = [f.result() for f in as_completed([remote.double.submit(n) for n in (5, 6)])]
        failure = remote.broken.submit()
        try:
            failure.result()
        except KeyError as exc:
            error = repr(exc)
        slow = remote.slow.submit()
        log = str(Path(marker).with_name("counted.log"))
        computed = remote.counted.submit(3, log).result()
        reused = remote.counted.submit(3, log)  # read from the cache, on whichever worker
        slow.result(raise_on_failure=False)  # handled: the flow run may still complete
        return {
            "pids": pids.result(),
            "doubled": doubled.result(),
            "awaited": awaited.result(),
            "finished": sorted(finished),
            "flaky": remote.flaky.submit(marker).result(),
            "error": error,
            "timed_out": slow.state.name,
            "cached": (computed, reused.result(), reused.state.name),
        }

    got = on_dask(str(tmp_path / "flaky.marker"))
    assert os.getpid() not in got["pids"]
    assert len(set(got["pids"])) == 2  # both worker processes took calls
    assert got["doubled"] == 2 * got["pids"][0]
    assert got["awaited"] == [101, 102]
    assert got["finished"] == [10, 12]
    assert got["flaky"] == "second attempt"
    assert got["error"] == "KeyError('no such row')"
    assert got["timed_out"] == "TimedOut"
    assert got["cached"] == (30, 30, "Cached")
    assert (tmp_path / "counted.log").read_text() == "ran\n"  # the function ran once

    assert_recorded_by_the_workers(client, "on-dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def dask_scheduler(tmp_path: Path, tasks_module: ModuleType) -> Iterator[str]:
    """A `dask scheduler` and two `dask worker` processes, as on other hosts."""
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = str(Path(sys.executable).with_name("dask"))
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        # The scheduler leaves a lost task to headrace (Crashed, then the task's retries).
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    host, port = address.removeprefix("tcp://").split(":")
    commands = [
        [dask, "scheduler", "--host", host, "--port", port, "--no-dashboard"],
        *[
            [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"]
            for i in range(2)
        ],
    ]
    processes = []
    try:
        for command in commands:
            processes.append(
                subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def kill_when_written(marker: Path) -> threading.Thread:
    """Kill the process whose pid appears in `marker` (the Dask worker running the task)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                time.sleep(0.3)  # the task run's Running report goes out first
                os.kill(int(marker.read_text()), signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_a_scheduler_address_runs_tasks_and_a_killed_worker_crashes_then_retries_its_task(
    client: HeadraceClient, tasks_module: ModuleType, tmp_path: Path, dask_scheduler: str
) -> None:
    remote = tasks_module
    marker = tmp_path / "dies.marker"

    @flow(task_runner=DaskTaskRunner(dask_scheduler, client_kwargs={"timeout": "30s"}))
    def on_scheduler(marker: str) -> tuple[list[int], int]:
        pids = remote.where.map(range(2))
        survivor = remote.dies_once.submit(marker)
        return pids.result(), survivor.result()

    watcher = kill_when_written(marker)
    pids, survivor = on_scheduler(str(marker))
    watcher.join(timeout=5)
    killed = int(marker.read_text())
    assert os.getpid() not in pids
    assert survivor != killed  # the retry ran in another (or a restarted) worker process

    run, runs = task_runs_of(client, "on-scheduler")
    assert run["state_type"] == "COMPLETED"
    dies = runs["dies_once-0"]
    assert dies["state_type"] == "COMPLETED" and dies["run_count"] == 2
    history = state_names(client, dies)
    assert "Crashed" in history and history[-2:] == ["Retrying", "Completed"]
    crashed = client.get_json(f"/task_runs/{dies['id']}")["states"][history.index("Crashed")]
    assert "Dask worker running it was lost" in crashed["message"]


def test_a_flow_on_dask_resumes_from_the_failed_step(
    client: HeadraceClient, tasks_module: ModuleType, tmp_path: Path
) -> None:
    remote = tasks_module
    runner = local_cluster_runner()

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
