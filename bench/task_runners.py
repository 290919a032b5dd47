"""1,000 tasks of 10 ms on each task runner, two slots each: threads, processes, Dask (a
LocalCluster of 2 worker processes) and Ray (a local Ray with 2 CPUs), against a running headrace
server (HEADRACE_API_URL).

    HEADRACE_API_URL=http://127.0.0.1:4200/api python bench/task_runners.py [--n 1000] \
        [--prefect-python /path/to/prefect-venv/bin/python]

With --prefect-python (a Python with prefect and prefect-dask installed), the same workload then
runs under Prefect 3 on its thread runner and prefect-dask (bench/_runner_workload_prefect.py).

Prints, per runner, the wall time of the flow run (its own start and end, the runner's start
and shutdown included), the time in the flow body (submitting every task and waiting for the
results, the runner already started by a first task), and the overhead per task: the body's time
above the ideal n x 10 ms / 2 slots, times 2 slots, over n tasks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

from _runner_timing import SLOTS, time_runners
from _runner_workload import ten_ms

from headrace import flow
from headrace.task_runners import (
    DaskTaskRunner,
    ProcessPoolTaskRunner,
    RayTaskRunner,
    ThreadPoolTaskRunner,
)

RUNNERS: dict[str, Callable[[], Any]] = {
    "threads": lambda: ThreadPoolTaskRunner(max_workers=SLOTS),
    "processes": lambda: ProcessPoolTaskRunner(max_workers=SLOTS),
    "dask": lambda: DaskTaskRunner(
        cluster_kwargs={"n_workers": SLOTS, "threads_per_worker": 1, "dashboard_address": ":0"}
    ),
    "ray": lambda: RayTaskRunner(
        init_kwargs={
            "num_cpus": SLOTS,
            "include_dashboard": False,
            "runtime_env": {"env_vars": {"PYTHONPATH": os.path.dirname(__file__)}},
        }
    ),
}


def body(n: int) -> float:
    """Seconds to run n tasks, once the runner is up (a first task starts it)."""
    ten_ms.submit(-1).result()
    started = time.perf_counter()
    futures = ten_ms.map(range(n))
    futures.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="1,000 tasks of 10 ms on each task runner")
    parser.add_argument("--n", type=int, default=1000, help="tasks per flow run")
    parser.add_argument("--runners", default=",".join(RUNNERS), help="comma-separated")
    parser.add_argument("--prefect-python", help="also run the workload under this Prefect 3")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    time_runners(flow, RUNNERS, args.runners.split(","), body, args.n, "")
    if args.prefect_python:
        workload = os.path.join(os.path.dirname(__file__), "_runner_workload_prefect.py")
        subprocess.run([args.prefect_python, workload, "--n", str(args.n)], check=True)


if __name__ == "__main__":
    main()
