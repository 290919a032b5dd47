"""End-to-end throughput of trivial runs through 1 and 2 workers with `--limit 8`.

    .venv/bin/python bench/runs_throughput.py [--runs 1000] [--workers 1 2]
        [--start-method fork|spawn]

Starts its own server (embedded PostgreSQL, temporary home). For each worker count: the workers
start and register, then the runs are created through the API as fast as one client can, and the
clock runs from the first create request to the moment every run is Completed. Every run is one
`python -m headrace.engine` process (forked from the worker's ready interpreter, or spawned).
Also printed: how long each create request took while the workers drained the burst (p50/p95),
and the peak memory (PSS) of the workers and all their processes.

With `--prefill` the runs are all created first and the clock starts when the workers start:
that measures how fast the workers drain a backlog, not how fast one client creates runs.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
from _memory import PeakMemory
from _stack import BenchStack, bench_stack, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--start-method", choices=["fork", "spawn"], default="fork")
    parser.add_argument("--prefill", action="store_true", help="create the runs first")
    args = parser.parse_args()
    results = []
    for count in args.workers:
        with bench_stack() as stack:
            creates: list[float] = []
            if args.prefill:
                _create(stack.http, args.runs, creates)
            started = time.monotonic()
            for index in range(count):
                stack.start_worker(
                    "bench", f"w{index}", args.limit, "--start-method", args.start_method
                )
            memory = PeakMemory({worker.pid for worker in stack.workers})
            if not args.prefill:
                stack.wait_workers_online("bench", count)
                started = time.monotonic()
                _create(stack.http, args.runs, creates)
            created = time.monotonic() - started
            finished = _wait_all_finished(stack.http, args.runs)
            elapsed = time.monotonic() - started
            memory.stop()
            served = _requests_by_route(stack)
            results.append(
                {
                    "workers": count,
                    "limit": args.limit,
                    "runs": args.runs,
                    "completed": finished,
                    "create_seconds": round(created, 2),
                    "total_seconds": round(elapsed, 2),
                    "runs_per_second": round(args.runs / elapsed, 1),
                    "start_method": args.start_method,
                    "prefill": args.prefill,
                    "create_request": summary(creates),
                    "peak_pss_mib": round(memory.peak_bytes / 2**20, 1),
                    "peak_processes": memory.peak_processes,
                    # The API's requests per run, by route (benchmark's own requests included:
                    # the creates and the wait for the end).
                    "requests_per_run": {
                        route: round(count / args.runs, 2) for route, count in served.items()
                    },
                }
            )
    print(json.dumps(results, indent=2))


def _create(http: httpx.Client, runs: int, times: list[float]) -> None:
    for _ in range(runs):
        sent = time.monotonic()
        http.post("/deployments/name/touch/bench/runs", json={}).raise_for_status()
        times.append(time.monotonic() - sent)


def _wait_all_finished(http: httpx.Client, runs: int) -> int:
    # Asks for one unfinished run, not for every finished one: listing up to 1,000 runs every
    # 50 ms took a good part of the API's CPU from the workers being measured.
    unfinished = {"state_type": "SCHEDULED,PENDING,RUNNING,CANCELLING,PAUSED", "limit": 1}
    while http.get("/flow_runs", params=unfinished).json()["items"]:
        time.sleep(0.05)
    finished = _count(http, "COMPLETED,FAILED,CRASHED,CANCELLED")
    if finished < runs:
        raise SystemExit(f"only {finished} of {runs} runs finished")
    failed = _count(http, "FAILED,CRASHED,CANCELLED")
    if failed:
        raise SystemExit(f"{failed} runs did not complete")
    return finished


def _requests_by_route(stack: BenchStack) -> dict[str, float]:
    """How many requests the API answered, by method and route (its /metrics histogram)."""
    text = httpx.get(stack.url.removesuffix("/api") + "/metrics").text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("headrace_http_request_duration_seconds_count{"):
            labels, value = line.removeprefix("headrace_http_request_duration_seconds_count").split(
                " "
            )
            fields = dict(part.split("=", 1) for part in labels.strip("{}").split(","))
            key = f"{fields['method'].strip(chr(34))} {fields['route'].strip(chr(34))}"
            counts[key] = counts.get(key, 0) + float(value)
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


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
