"""What `resume_from_failure=True` costs a flow run: each task run's result is kept for a retry.

    .venv/bin/python bench/resume_overhead.py [--tasks 500] [--rounds 2]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py), then runs in this
process a flow of `--tasks` direct calls of a trivial task, reporting to that server: without
resume, with resume and results kept in the API (the default), and with resume and
`result_storage=` a local folder. Prints one JSON line per case: ms per task (best of
`--rounds`).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from _stack import bench_stack

from headrace import flow, task


@task
def step(i: int) -> int:
    return i


def per_task_ms(tasks: int, rounds: int, **options: object) -> float:
    @flow(name="resume-bench", **options)  # type: ignore[call-overload]
    def chain() -> int:
        return sum(step(i) for i in range(tasks))

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        chain()
        best = min(best, time.perf_counter() - started)
    return best * 1000 / tasks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with bench_stack() as stack:
        os.environ["HEADRACE_API_URL"] = stack.url
        os.environ["HEADRACE_HOME"] = stack.env["HEADRACE_HOME"]
        per_task_ms(50, 1)  # warm up: the client, the flow's row
        folder = tempfile.mkdtemp(prefix="hrb-results-", dir="/tmp")
        cases: dict[str, dict[str, object]] = {
            "plain": {},
            "resume, results in the API": {"resume_from_failure": True},
            "resume, results in a folder": {"resume_from_failure": True, "result_storage": folder},
        }
        for name, options in cases.items():
            ms = per_task_ms(args.tasks, args.rounds, **options)
            print(json.dumps({"case": name, "tasks": args.tasks, "ms_per_task": round(ms, 2)}))


if __name__ == "__main__":
    main()
