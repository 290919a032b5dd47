"""Claim throughput: N claimers taking runs from one pool holding 100,000 due runs.

    .venv/bin/python bench/claim_throughput.py [--runs 100000] [--seconds 10]
        [--claimers 1,4,16] [--limits 1,10]

Starts its own `headrace server start` (embedded PostgreSQL in a temporary home, see _stack.py),
fills the pool with one INSERT ... SELECT generate_series, then for each (claimers, limit) lets
N concurrent clients call `POST /api/work_pools/bench/claim` for `--seconds` and prints claims
per second and how many runs were handed out twice (must be 0; checked from the returned ids and
from the database). It then runs the raw claim SQL (`queue.flow_run_claim`) over N direct
database connections, to show what the HTTP layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from _stack import bench_stack
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from headrace_service import queue
from headrace_service.embedded import sqlalchemy_url_for_socket

FILL = """
    INSERT INTO flow_run (name, flow_id, deployment_id, work_pool_id, work_queue_id,
                          state_type, state_name, expected_start_time, next_scheduled_start_time)
    SELECT 'bench-' || g, d.flow_id, d.id, d.work_pool_id, d.work_queue_id,
           'SCHEDULED', 'Scheduled', now() - interval '1 hour' + g * interval '1 millisecond',
           now() - interval '1 hour' + g * interval '1 millisecond'
    FROM deployment d, generate_series(1, :n) AS g
    WHERE d.id = :deployment_id
"""

Claim = Callable[[str, int], Awaitable[list[str]]]


async def drive(claim: Claim, workers: list[str], limit: int, seconds: float) -> list[str]:
    """Every worker claims in a loop until time is up or nothing is left; all ids returned."""
    deadline = time.monotonic() + seconds
    claimed: list[str] = []

    async def claimer(worker_id: str) -> None:
        while time.monotonic() < deadline:
            batch = await claim(worker_id, limit)
            if not batch:
                return
            claimed.extend(batch)

    await asyncio.gather(*(claimer(w) for w in workers))
    return claimed


def refill(database_url: str, deployment_id: str, runs: int) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM flow_run"))
        conn.execute(text(FILL), {"n": runs, "deployment_id": deployment_id})
        conn.execute(text("VACUUM ANALYZE flow_run"))
        conn.execute(text("VACUUM ANALYZE flow_run_state"))
    engine.dispose()


def pending_count(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count: int = conn.execute(
            text("SELECT count(*) FROM flow_run WHERE state_type = 'PENDING'")
        ).scalar_one()
    engine.dispose()
    return count


async def http_round(
    url: str, workers: list[str], limit: int, seconds: float
) -> tuple[list[str], float]:
    limits = httpx.Limits(max_connections=len(workers) + 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def claim(worker_id: str, n: int) -> list[str]:
            response = await client.post(
                "/work_pools/bench/claim", json={"worker_id": worker_id, "limit": n}
            )
            response.raise_for_status()
            return [c["flow_run"]["id"] for c in response.json()]

        started = time.monotonic()
        ids = await drive(claim, workers, limit, seconds)
        return ids, time.monotonic() - started


async def sql_round(
    database_url: str, pool_id: str, workers: list[str], limit: int, seconds: float
) -> tuple[list[str], float]:
    engine = create_async_engine(database_url, pool_size=len(workers), max_overflow=0)

    async def claim(worker_id: str, n: int) -> list[str]:
        async with engine.begin() as conn:
            rows = await queue.flow_run_claim(conn, pool_id, worker_id, n, 30.0)  # type: ignore[arg-type]
        return [str(r["id"]) for r in rows]

    started = time.monotonic()
    ids = await drive(claim, workers, limit, seconds)
    elapsed = time.monotonic() - started
    await engine.dispose()
    return ids, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--claimers", default="1,4,16")
    parser.add_argument("--limits", default="1,10")
    args = parser.parse_args()
    claimer_counts = [int(c) for c in args.claimers.split(",")]
    limits = [int(v) for v in args.limits.split(",")]
    results: list[dict[str, Any]] = []
    with bench_stack() as stack:
        database_url = sqlalchemy_url_for_socket(str(Path(stack.env["HEADRACE_HOME"]) / "postgres"))
        deployment = stack.http.get("/deployments/name/touch/bench").json()
        workers = [
            stack.http.post("/work_pools/bench/workers/heartbeat", json={"name": f"b{i}"}).json()[
                "worker_id"
            ]
            for i in range(max(claimer_counts))
        ]
        for path in ("http", "sql"):
            for limit in limits:
                for count in claimer_counts:
                    refill(database_url, deployment["id"], args.runs)
                    if path == "http":
                        ids, elapsed = asyncio.run(
                            http_round(stack.url, workers[:count], limit, args.seconds)
                        )
                    else:
                        ids, elapsed = asyncio.run(
                            sql_round(
                                database_url,
                                deployment["work_pool_id"],
                                workers[:count],
                                limit,
                                args.seconds,
                            )
                        )
                    row = {
                        "path": path,
                        "claimers": count,
                        "limit": limit,
                        "claimed": len(ids),
                        "claims_per_s": round(len(ids) / elapsed),
                        "requests_per_s": round(len(ids) / limit / elapsed),
                        "duplicates": len(ids) - len(set(ids)),
                        "pending_in_db": pending_count(database_url),
                    }
                    results.append(row)
                    print(json.dumps(row), flush=True)
    print()
    print(f"{'path':<5} {'claimers':>8} {'limit':>5} {'claims/s':>9} {'dupes':>5}")
    for row in results:
        print(
            f"{row['path']:<5} {row['claimers']:>8} {row['limit']:>5} "
            f"{row['claims_per_s']:>9} {row['duplicates']:>5}"
        )
    if any(r["duplicates"] or r["pending_in_db"] != r["claimed"] for r in results):
        raise SystemExit("a run was handed out twice")


if __name__ == "__main__":
    main()
