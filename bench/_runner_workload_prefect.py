"""The workload of `bench/task_runners.py` under Prefect 3 (run with a Python where prefect and
prefect-dask are installed; Prefect runs it against its ephemeral server):

    /path/to/prefect-venv/bin/python bench/_runner_workload_prefect.py --n 1000

Prints the same line per runner as `bench/task_runners.py`, labelled "prefect".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _runner_timing import SLOTS, TASK_SECONDS, time_runners
from prefect import flow, task  # type: ignore[import-not-found]
from prefect.task_runners import ThreadPoolTaskRunner  # type: ignore[import-not-found]


@task
def ten_ms(x: int) -> int:
    time.sleep(TASK_SECONDS)
    return x


def dask_runner() -> Any:
    from prefect_dask import DaskTaskRunner  # type: ignore[import-not-found]

    return DaskTaskRunner(
        cluster_kwargs={"n_workers": SLOTS, "threads_per_worker": 1, "dashboard_address": ":0"}
    )


RUNNERS: dict[str, Callable[[], Any]] = {
    "threads": lambda: ThreadPoolTaskRunner(max_workers=SLOTS),
    "dask": dask_runner,
}


def body(n: int) -> float:
    ten_ms.submit(-1).result()
    started = time.perf_counter()
    ten_ms.map(range(n)).result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="the task runner workload under Prefect 3")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runners", default=",".join(RUNNERS))
    args = parser.parse_args()
    time_runners(flow, RUNNERS, args.runners.split(","), body, args.n, "prefect ")


if __name__ == "__main__":
    main()
