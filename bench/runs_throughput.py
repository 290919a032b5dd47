"""End-to-end throughput of trivial runs through 1 and 2 workers with `--limit 8`.

    .venv/bin/python bench/runs_throughput.py [--runs 500] [--workers 1 2]

Starts its own server (embedded PostgreSQL, temporary home). For each worker count: the workers
start and register, then the runs are created through the API as fast as one client can, and the
clock runs from the first create request to the moment every run is Completed. Every run is one
`python -m headrace.engine` process, so this mostly measures Python start-up on this host.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
from _stack import bench_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args()
    results = []
    for count in args.workers:
        with bench_stack() as stack:
            for index in range(count):
                stack.start_worker("bench", f"w{index}", limit=args.limit)
            stack.wait_workers_online("bench", count)
            started = time.monotonic()
            for _ in range(args.runs):
                stack.http.post("/deployments/name/touch/bench/runs", json={}).raise_for_status()
            created = time.monotonic() - started
            finished = _wait_all_finished(stack.http, args.runs)
            elapsed = time.monotonic() - started
            results.append(
                {
                    "workers": count,
                    "limit": args.limit,
                    "runs": args.runs,
                    "completed": finished,
                    "create_seconds": round(created, 2),
                    "total_seconds": round(elapsed, 2),
                    "runs_per_second": round(args.runs / elapsed, 1),
                }
            )
    print(json.dumps(results, indent=2))


def _wait_all_finished(http: httpx.Client, runs: int) -> int:
    while (finished := _count(http, "COMPLETED,FAILED,CRASHED,CANCELLED")) < runs:
        time.sleep(0.05)
    failed = _count(http, "FAILED,CRASHED,CANCELLED")
    if failed:
        raise SystemExit(f"{failed} runs did not complete")
    return finished


def _count(http: httpx.Client, states: str) -> int:
    total = 0
    while True:
        page = http.get(
            "/flow_runs", params={"state_type": states, "limit": 500, "offset": total}
        ).json()["items"]
        total += len(page)
        if len(page) < 500:
            return total


if __name__ == "__main__":
    main()
