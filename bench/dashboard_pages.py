"""Dashboard page latency on a database with 100,000 flow runs.

    .venv/bin/python bench/dashboard_pages.py [--runs 100000] [--requests 30]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py), fills it with
`--runs` flow runs set-based (INSERT ... SELECT generate_series: 20 flows, a week of history,
mostly Completed, some Failed/Cancelled/Crashed, a few Running and Scheduled, a quarter of them
from a deployment, each with its final state row) plus one busy run with 200 task runs and
2,000 log lines, ANALYZEs, then GETs each page `--requests` times one after another (after 3
warm-up requests) and prints its p50/p95 in milliseconds, one JSON line per page.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from html import unescape
from pathlib import Path
from typing import Any

from _stack import bench_stack, percentile
from sqlalchemy import create_engine, text

from headrace_service.embedded import sqlalchemy_url_for_socket

FLOWS = 20
FILL = [
    "INSERT INTO flow (name) SELECT 'flow-' || g FROM generate_series(1, :flows) AS g",
    # Newest first every 6 s back from now: 100,000 runs span a week.
    """
    WITH f AS (SELECT array_agg(id ORDER BY name) AS ids FROM flow WHERE name LIKE 'flow-%'),
    d AS (SELECT id AS d_id, work_pool_id AS d_pool, work_queue_id AS d_queue
          FROM deployment LIMIT 1),
    runs AS (
        SELECT g, now() - g * interval '6 seconds' AS created,
               CASE WHEN g <= 20 THEN 'RUNNING'
                    WHEN g <= 40 THEN 'SCHEDULED'
                    WHEN g % 20 IN (16, 17) THEN 'FAILED'
                    WHEN g % 20 = 18 THEN 'CANCELLED'
                    WHEN g % 97 = 0 THEN 'CRASHED'
                    ELSE 'COMPLETED' END AS state
        FROM generate_series(1, :n) AS g
    ),
    inserted AS (
        INSERT INTO flow_run (name, flow_id, deployment_id, work_pool_id, work_queue_id,
            state_type, state_name, state_message, tags, created, expected_start_time,
            next_scheduled_start_time, start_time, end_time, run_count)
        SELECT 'run-' || g, f.ids[1 + g % :flows],
               CASE WHEN g % 4 = 0 THEN d_id END,
               CASE WHEN g % 4 = 0 THEN d_pool END,
               CASE WHEN g % 4 = 0 THEN d_queue END,
               CAST(state AS state_type), initcap(state),
               CASE WHEN state = 'FAILED' THEN 'ValueError: row ' || g || ' is empty' END,
               ARRAY['team-' || g % 5], created, created,
               CASE WHEN state = 'SCHEDULED' THEN now() + g * interval '1 minute' END,
               CASE WHEN state <> 'SCHEDULED' THEN created + interval '1 second' END,
               CASE WHEN state NOT IN ('SCHEDULED', 'RUNNING')
                    THEN created + (1 + g % 300) * interval '1 second' END,
               1
        FROM runs, f, d
        RETURNING id, state_type, state_name, coalesce(end_time, created) AS at
    )
    INSERT INTO flow_run_state (flow_run_id, type, name, timestamp)
    SELECT id, state_type, state_name, at FROM inserted
    """,
    # The busy run: 200 task runs and 2,000 log lines.
    """
    WITH r AS (SELECT id, start_time FROM flow_run WHERE name = 'run-1')
    INSERT INTO task_run (id, flow_run_id, name, task_key, dynamic_key, state_type, state_name,
                          state_timestamp, start_time, end_time)
    SELECT gen_random_uuid(), r.id, 'step-' || g, 'step', g::text, 'COMPLETED', 'Completed',
           now(), r.start_time + g * interval '100 ms',
           r.start_time + g * interval '100 ms' + interval '1 s'
    FROM r, generate_series(1, 200) AS g
    """,
    """
    INSERT INTO log (flow_run_id, level, name, message, timestamp)
    SELECT id, 20 + 10 * (g % 3), 'flow', 'line ' || g || ' of the busy run', now()
    FROM flow_run, generate_series(1, 2000) AS g WHERE name = 'run-1'
    """,
]


def fill(database_url: str, runs: int) -> tuple[float, str, int]:
    """Seconds it took, the busy run's id, and the id of its 10th-last log line."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    started = time.monotonic()
    with engine.connect() as conn:
        for statement in FILL:
            conn.execute(text(statement), {"n": runs, "flows": FLOWS})
        for table in ("flow_run", "flow_run_state", "task_run", "log"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
        busy = conn.execute(text("SELECT id FROM flow_run WHERE name = 'run-1'")).scalar_one()
        tail = conn.execute(
            text("SELECT max(id) - 10 FROM log WHERE flow_run_id = :id"), {"id": busy}
        ).scalar_one()
    engine.dispose()
    return time.monotonic() - started, str(busy), int(tail)


def deep_page(http: Any, path: str, pages: int) -> str:
    """The URL reached by following a runs page's Next link `pages` times."""
    for _ in range(pages):
        found = re.search(r'<a href="([^"]+)" rel="next">', http.get(path).text)
        if found is None:
            raise SystemExit(f"{path} has no next page")
        path = "/runs" + unescape(found.group(1))
    return path


def time_page(http: Any, path: str, requests: int) -> dict[str, Any]:
    for _ in range(3):
        http.get(path)
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        response = http.get(path)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:200]}")
    return {
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with bench_stack() as stack:
        url = sqlalchemy_url_for_socket(str(Path(stack.env["HEADRACE_HOME"]) / "postgres"))
        deployment = stack.deployment_id("touch/bench")
        seconds, busy_id, tail = fill(url, args.runs)
        print(json.dumps({"runs": args.runs, "filled_and_analyzed_s": round(seconds, 1)}))
        http = stack.http
        http.base_url = stack.url.removesuffix("/api")  # type: ignore[assignment]
        deep = min(100, args.runs // 50 - 2)  # Next links followed for a deep page
        pages = {
            "overview": "/",
            "overview, week": "/?range=week",
            "runs": "/runs",
            f"runs, page {deep + 1}": deep_page(http, "/runs", deep),
            "runs by start, newest": "/runs?sort=-started",
            "runs by end, oldest": "/runs?sort=ended",
            f"runs by end, newest, page {deep + 1}": deep_page(http, "/runs?sort=-ended", deep),
            "runs by name": "/runs?sort=name",
            "runs Failed": "/runs?state=FAILED",
            "runs of one flow": "/runs?flow=flow-7",
            "runs tag + last day": "/runs?tag=team-3&since=day",
            "runs live rows": "/runs/rows",
            "run (200 tasks, 2,000 lines)": f"/runs/{busy_id}",
            "run live fragment": f"/runs/{busy_id}?part=live",
            "run log tail (after=)": f"/api/flow_runs/{busy_id}/logs?after={tail}",
            "deployments": "/deployments",
            "deployment": f"/deployments/{deployment}",
            "work pools": "/work-pools",
            "concurrency": "/concurrency",
        }
        for label, path in pages.items():
            print(json.dumps({"page": label, **time_page(http, path, args.requests)}), flush=True)


if __name__ == "__main__":
    main()
