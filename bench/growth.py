"""Growth: list, filter, log and claim latency with 1,000,000 finished runs and 10,000,000 log
lines in the database; and the retention loop's log deletion at that size.

    .venv/bin/python bench/growth.py [--runs 1000000] [--logs-per-run 10] [--requests 30]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py), then fills it
set-based (INSERT ... SELECT generate_series, timed): `--runs` finished runs of 20 flows spread
over the last 29 days (90% Completed, 9% Failed, 1% Crashed; one in 1,000 tagged `rare`; the
runs of the flow `touch` belong to the deployment `touch/bench` in pool `bench`), one state row
each, and `--logs-per-run` log lines each, in time order (so log ids grow with time, as they
do). Then VACUUM ANALYZE, and `--requests` times each (after one warm-up request): GET
/api/flow_runs without and with each filter, a deep page, one run, one run's logs, and a claim
(`POST /work_pools/bench/claim` of a run just made due). Prints p50/p95 per request.

Last, the retention loop (`loops.retention.run_once`, logs and runs kept 30 days) with
nothing to delete, which is its state between passes once it has caught up: the pass time and
the plans of its DELETEs (EXPLAIN ANALYZE, rolled back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable

import httpx
from _claimer import HttpClaimer
from _stack import bench_stack, summary
from sqlalchemy import create_engine, text

from headrace_service.db import Database
from headrace_service.db import create_engine as create_async_engine
from headrace_service.loops import retention

FLOWS = """
    INSERT INTO flow (name) SELECT 'growth-' || g FROM generate_series(1, 19) AS g
"""
# Run g belongs to flow g % 20 (the deployment's flow for 0); ends 1 s after it starts.
RUNS = """
    WITH flows AS (
        SELECT f.id, row_number() OVER (ORDER BY f.name) - 1 AS slot, d.id AS deployment_id,
               d.work_pool_id, d.work_queue_id
        FROM flow f LEFT JOIN deployment d ON d.flow_id = f.id
    ), runs AS (
        INSERT INTO flow_run (name, flow_id, deployment_id, work_pool_id, work_queue_id,
                              state_type, state_name, tags, run_count, created, updated,
                              expected_start_time, start_time, end_time, state_timestamp)
        SELECT 'growth-' || g, f.id, f.deployment_id, f.work_pool_id, f.work_queue_id,
               s.state_type, s.state_name,
               CASE WHEN g % 1000 = 0 THEN ARRAY['bench', 'rare'] ELSE ARRAY['bench'] END,
               1, t.at, t.at + interval '1 second', t.at, t.at, t.at + interval '1 second',
               t.at + interval '1 second'
        FROM generate_series(1, :n) AS g
        CROSS JOIN LATERAL (
            SELECT now() - interval '29 days' + (g * interval '29 days') / :n AS at
        ) AS t
        CROSS JOIN LATERAL (
            SELECT CASE WHEN g % 100 = 0 THEN 'CRASHED'::state_type
                        WHEN g % 100 < 10 THEN 'FAILED'::state_type
                        ELSE 'COMPLETED'::state_type END AS state_type,
                   CASE WHEN g % 100 = 0 THEN 'Crashed'
                        WHEN g % 100 < 10 THEN 'Failed' ELSE 'Completed' END AS state_name
        ) AS s
        JOIN flows f ON f.slot = g % 20
        RETURNING id, state_type, state_name, end_time
    )
    INSERT INTO flow_run_state (flow_run_id, type, name, timestamp)
    SELECT id, state_type, state_name, end_time FROM runs
"""
# In the runs' physical order (their creation order), lines within a run: ids grow with time.
LOGS = """
    INSERT INTO log (flow_run_id, level, name, message, timestamp)
    SELECT r.id, CASE WHEN l = :per_run AND r.state_type <> 'COMPLETED' THEN 40 ELSE 20 END,
           'headrace.flow_runs', 'line ' || l || ' of run ' || r.name || ': did some work',
           r.start_time + l * interval '1 second' / :per_run
    FROM flow_run r CROSS JOIN generate_series(1, :per_run) AS l
"""

Request = Callable[[httpx.Client], httpx.Response]


def fill(database_url: str, runs: int, logs_per_run: int) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for label, statement, params in (
            ("flows", FLOWS, {}),
            (f"{runs} runs + state rows", RUNS, {"n": runs}),
            (f"{runs * logs_per_run} log lines", LOGS, {"per_run": logs_per_run}),
            ("VACUUM ANALYZE", "VACUUM ANALYZE", {}),
        ):
            started = time.monotonic()
            conn.execute(text(statement), params)
            print(json.dumps({"filled": label, "seconds": round(time.monotonic() - started, 1)}))
        sizes = conn.execute(
            text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) "
                "FROM pg_stat_user_tables WHERE relname IN ('flow_run', 'flow_run_state', 'log')"
            )
        ).all()
        print(json.dumps({"sizes": dict(sizes)}), flush=True)  # type: ignore[arg-type]
    engine.dispose()


def timed(http: httpx.Client, request: Request, count: int) -> dict[str, object]:
    request(http).raise_for_status()  # warm-up: caches, prepared plans
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = request(http)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return summary(latencies)


async def claim_latencies(url: str, count: int) -> dict[str, object]:
    """A claim of a run just made due, `count` times (the run is completed after each)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        claimer = await HttpClaimer.register(client, "bench", "growth")
        latencies = []
        for _ in range(count + 1):
            made = await client.post("/deployments/name/touch/bench/runs", json={})
            made.raise_for_status()
            latency, run_ids = await claimer.claim()
            if run_ids != [made.json()["id"]]:
                raise SystemExit(f"the claim returned {run_ids}, not the run just made")
            await claimer.complete_all(run_ids)
            latencies.append(latency)
    return summary(latencies[1:])


def retention_pass(database_url: str) -> None:
    """The loop's pass with nothing to delete (everything is newer than 30 days), timed, and
    the plans of its two DELETEs (EXPLAIN ANALYZE, rolled back)."""

    async def passes() -> list[float]:
        db = Database(create_async_engine(database_url, pool_size=1, pool_timeout=30))
        policy = retention.RetentionPolicy(runs_days=30, logs_days=30)
        seconds = []
        try:
            # Several passes on one connection: psycopg prepares a statement on its 5th use,
            # and a generic plan must not fall back to scanning the table.
            for _ in range(7):
                started = time.monotonic()
                result = await retention.run_once(db, policy=policy)
                seconds.append(round(time.monotonic() - started, 3))
                assert result.logs_deleted == result.runs_deleted == 0
        finally:
            await db.dispose()
        return seconds

    print(json.dumps({"retention pass, nothing to delete (s)": asyncio.run(passes())}))
    engine = create_engine(database_url)
    with engine.connect() as conn:
        cutoff = conn.execute(text("SELECT now() - interval '30 days'")).scalar_one()
        for statement in (retention._DELETE_LOGS, retention._DELETE_RUNS):
            plan = conn.execute(
                text("EXPLAIN (ANALYZE, BUFFERS) " + str(statement)),
                {"cutoff": cutoff, "limit": 1000},
            ).scalars()
            print("\n".join(plan), flush=True)
        conn.rollback()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--logs-per-run", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with bench_stack() as stack:
        fill(stack.database_url, args.runs, args.logs_per_run)
        http = stack.http
        deployment_id = stack.deployment_id("touch/bench")
        some_run = http.get(
            "/flow_runs", params={"flow_name": "growth-7", "offset": args.runs // 40}
        ).json()
        run_id = some_run["items"][0]["id"]
        requests: dict[str, Request] = {
            "list (newest 50)": lambda h: h.get("/flow_runs"),
            "list state=FAILED": lambda h: h.get("/flow_runs", params={"state_type": "FAILED"}),
            "list state=CRASHED": lambda h: h.get("/flow_runs", params={"state_type": "CRASHED"}),
            "list state=RUNNING (none)": lambda h: h.get(
                "/flow_runs", params={"state_type": "RUNNING"}
            ),
            "list flow_name": lambda h: h.get("/flow_runs", params={"flow_name": "growth-7"}),
            "list deployment_id": lambda h: h.get(
                "/flow_runs", params={"deployment_id": deployment_id}
            ),
            "list work_pool_name": lambda h: h.get(
                "/flow_runs", params={"work_pool_name": "bench"}
            ),
            "list tag=rare": lambda h: h.get("/flow_runs", params={"tag": "rare"}),
            "list flow_name + state=CRASHED": lambda h: h.get(
                "/flow_runs", params={"flow_name": "growth-7", "state_type": "CRASHED"}
            ),
            "list offset=10000": lambda h: h.get("/flow_runs", params={"offset": 10_000}),
            "read one run": lambda h: h.get(f"/flow_runs/{run_id}"),
            "read one run's logs": lambda h: h.get(f"/flow_runs/{run_id}/logs"),
        }
        print(f"{'request':<32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for label, request in requests.items():
            row = timed(http, request, args.requests)
            print(
                f"{label:<32} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}", flush=True
            )
        row = asyncio.run(claim_latencies(stack.url, args.requests))
        print(f"{'claim (HTTP)':<32} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}")
        retention_pass(stack.database_url)


if __name__ == "__main__":
    main()
