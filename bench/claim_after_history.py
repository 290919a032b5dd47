"""Claim speed with a long history: before and after 1,000,000 finished runs, and after
retention deleted them.

    .venv/bin/python bench/claim_after_history.py [--history 1000000] [--due 20000] [--seconds 5]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py). Each round fills
the pool with `--due` due runs and lets one claimer take them one at a time with the raw claim
SQL (`queue.flow_run_claim`) for `--seconds`: claims per second and the 50th/99th percentile
latency. Rounds: empty history; `--history` COMPLETED runs (each with one state row) ended 40
days ago; after `headrace server database vacuum --older-than-days 30` deleted them (timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from _stack import bench_stack
from claim_throughput import FILL
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from headrace_service import queue
from headrace_service.embedded import sqlalchemy_url_for_socket

HISTORY = """
    WITH runs AS (
        INSERT INTO flow_run (name, flow_id, deployment_id, work_pool_id, work_queue_id,
                              state_type, state_name, created, start_time, end_time)
        SELECT 'old-' || g, d.flow_id, d.id, d.work_pool_id, d.work_queue_id,
               'COMPLETED', 'Completed', now() - interval '41 days',
               now() - interval '41 days', now() - interval '40 days'
        FROM deployment d, generate_series(1, :n) AS g
        WHERE d.id = :deployment_id
        RETURNING id
    )
    INSERT INTO flow_run_state (flow_run_id, type, name, timestamp)
    SELECT id, 'COMPLETED', 'Completed', now() - interval '40 days' FROM runs
"""


def sql(database_url: str, *statements: tuple[str, dict[str, Any]]) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement, params in statements:
            conn.execute(text(statement), params)
    engine.dispose()


def refill(database_url: str, deployment_id: str, due: int) -> None:
    sql(
        database_url,
        ("DELETE FROM flow_run WHERE state_type <> 'COMPLETED'", {}),
        (FILL, {"n": due, "deployment_id": deployment_id}),
        ("VACUUM ANALYZE flow_run", {}),
    )


async def claim_round(
    database_url: str, pool_id: str, worker_id: str, seconds: float
) -> dict[str, float]:
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        async with engine.begin() as conn:
            rows = await queue.flow_run_claim(conn, pool_id, worker_id, 1, 30.0)  # type: ignore[arg-type]
        latencies.append(time.perf_counter() - started)
        if not rows:
            break
    await engine.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "claims_per_s": round(len(latencies) / sum(latencies)),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with bench_stack() as stack:
        url = sqlalchemy_url_for_socket(str(Path(stack.env["HEADRACE_HOME"]) / "postgres"))
        deployment = stack.http.get("/deployments/name/touch/bench").json()
        worker = stack.http.post("/work_pools/bench/workers/heartbeat", json={"name": "b"})
        worker_id = worker.json()["worker_id"]

        def measure(label: str) -> None:
            refill(url, deployment["id"], args.due)
            figures = asyncio.run(
                claim_round(url, deployment["work_pool_id"], worker_id, args.seconds)
            )
            print(json.dumps({"round": label, **figures}), flush=True)

        measure("no history")
        started = time.monotonic()
        sql(
            url,
            (HISTORY, {"n": args.history, "deployment_id": deployment["id"]}),
            ("VACUUM ANALYZE flow_run", {}),
            ("VACUUM ANALYZE flow_run_state", {}),
        )
        print(json.dumps({"history_inserted_s": round(time.monotonic() - started, 1)}))
        measure(f"{args.history} finished runs")
        started = time.monotonic()
        print(stack.cli("server", "database", "vacuum", "--older-than-days", "30").strip())
        print(json.dumps({"retention_and_vacuum_s": round(time.monotonic() - started, 1)}))
        measure("after retention")


if __name__ == "__main__":
    main()
