"""Variables and artifacts: `Variable.get` latency, and a run's Artifacts section with 1,000
artifacts.

    .venv/bin/python bench/artifacts_variables.py [--gets 500] [--artifacts 1000] [--requests 30]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py), then:
- GETs /api/health `--gets` times (the floor: an HTTP round trip without the database);
- sets a variable and calls `Variable.get` (the real SDK, over HTTP, one client kept for the
  process as user code gets it) `--gets` times after 20 warm-up calls: p50/p95 in ms;
- makes one flow run publish `--artifacts` artifacts through the API (40% markdown reports, 30%
  tables of 10 rows, 20% progress bars, 10% images), then GETs the run's Artifacts section
  (`/runs/{id}/artifacts`, what the run page shows and refreshes while the run is active) and the
  whole run page `--requests` times each after 3 warm-ups: p50/p95 in ms.
Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import httpx
from _stack import bench_stack, percentile

from headrace.settings import client_settings

REPORT = """# Load report {i}

Loaded **{i} files** into `warehouse.events`; see the [dashboard](https://example.com/{i}).

| table | rows | seconds |
|---|---:|---:|
| events | {i}00 | 1.{i} |
| users | {i}0 | 0.4 |
"""


def artifact_body(i: int, run_id: str) -> dict[str, object]:
    kind = i % 10
    body: dict[str, object] = {"flow_run_id": run_id, "key": f"bench-{i % 50}"}
    if kind < 4:
        body |= {"type": "markdown", "data": REPORT.format(i=i)}
    elif kind < 7:
        rows = [{"file": f"part-{j}.csv", "rows": i * j, "ok": j % 3 != 0} for j in range(10)]
        body |= {"type": "table", "data": rows, "description": f"files of batch {i}"}
    elif kind < 9:
        body |= {"type": "progress", "data": i % 101}
    else:
        body |= {"type": "image", "data": f"https://example.com/chart-{i}.png"}
    return body


def timed_gets(http: httpx.Client, path: str, requests: int) -> list[float]:
    for _ in range(3):
        http.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gets", type=int, default=500)
    parser.add_argument("--artifacts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with bench_stack() as stack:
        os.environ["HEADRACE_API_URL"] = stack.url
        client_settings.cache_clear()
        from headrace.variables import Variable

        # The floor: the cheapest round trip to the same server (no database).
        floor = []
        for _ in range(args.gets):
            started = time.perf_counter()
            stack.http.get("/health").raise_for_status()
            floor.append((time.perf_counter() - started) * 1000)
        print(
            json.dumps(
                {
                    "figure": "GET /api/health (floor)",
                    "calls": args.gets,
                    "p50_ms": round(percentile(floor, 0.5), 2),
                    "p95_ms": round(percentile(floor, 0.95), 2),
                }
            )
        )
        Variable.set("bench_threshold", {"low": 0.2, "high": 0.8, "regions": ["eu", "us"]})
        for _ in range(20):
            Variable.get("bench_threshold")
        gets = []
        for _ in range(args.gets):
            started = time.perf_counter()
            Variable.get("bench_threshold")
            gets.append((time.perf_counter() - started) * 1000)
        print(
            json.dumps(
                {
                    "figure": "Variable.get",
                    "calls": args.gets,
                    "p50_ms": round(percentile(gets, 0.5), 2),
                    "p95_ms": round(percentile(gets, 0.95), 2),
                }
            )
        )

        http = stack.http
        run = http.post("/flow_runs", json={"flow_name": "publish", "state": {"type": "RUNNING"}})
        run.raise_for_status()
        run_id = run.json()["id"]
        started = time.perf_counter()
        for i in range(args.artifacts):
            http.post("/artifacts", json=artifact_body(i, run_id)).raise_for_status()
        print(
            json.dumps(
                {
                    "figure": "artifacts created",
                    "count": args.artifacts,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
        )
        http.base_url = stack.url.removesuffix("/api")  # type: ignore[assignment]
        for name, path in (
            ("Artifacts section of the run", f"/runs/{run_id}/artifacts"),
            ("whole run page", f"/runs/{run_id}"),
        ):
            times = timed_gets(http, path, args.requests)
            print(
                json.dumps(
                    {
                        "figure": name,
                        "artifacts": args.artifacts,
                        "p50_ms": round(percentile(times, 0.5), 1),
                        "p95_ms": round(percentile(times, 0.95), 1),
                    }
                )
            )


if __name__ == "__main__":
    main()
