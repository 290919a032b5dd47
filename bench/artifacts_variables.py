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
from collections.abc import Callable

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


def timed(call: Callable[[], object], times: int, warm_up: int) -> list[float]:
    """Milliseconds of each of `times` calls, after `warm_up` calls."""
    for _ in range(warm_up):
        call()
    elapsed = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        elapsed.append((time.perf_counter() - started) * 1000)
    return elapsed


def report(figure: str, elapsed: list[float], **about: object) -> None:
    p50, p95 = percentile(elapsed, 0.5), percentile(elapsed, 0.95)
    print(json.dumps({"figure": figure, **about, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}))


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
        health = timed(lambda: stack.http.get("/health").raise_for_status(), args.gets, 20)
        report("GET /api/health (floor)", health, calls=args.gets)
        Variable.set("bench_threshold", {"low": 0.2, "high": 0.8, "regions": ["eu", "us"]})
        gets = timed(lambda: Variable.get("bench_threshold"), args.gets, 20)
        report("Variable.get", gets, calls=args.gets)

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
            pages = timed(lambda: http.get(path).raise_for_status(), args.requests, 3)  # noqa: B023
            report(name, pages, artifacts=args.artifacts)


if __name__ == "__main__":
    main()
