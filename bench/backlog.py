"""Backlog drain: 100,000 due runs emptied by 8 claimer processes through the HTTP API, against
the raw SQL claim ceiling measured in the same script.

    .venv/bin/python bench/backlog.py [--runs 100000] [--claimers 8] [--claim-limit 10]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py).

1. Raw ceiling: fills the pool with `--runs` due runs (one INSERT ... SELECT generate_series,
   then VACUUM ANALYZE) and lets `--claimers` direct database connections run the claim
   statement (`queue.flow_run_claim`, one transaction per claim of `--claim-limit` runs) until
   the pool is empty: claims per second. This is only the claim, nothing else.
2. HTTP: fills the pool again and starts `--claimers` processes, each a worker reduced to its
   HTTP calls (_claimer.py): `POST /work_pools/bench/claim`, then RUNNING and COMPLETED for each
   run (`POST /flow_runs/{id}/set_state`), until the pool is empty: runs per second, and its
   share of the raw ceiling. Every run must end COMPLETED exactly once (checked from the
   claimed ids and the database) or the script exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from multiprocessing.synchronize import Barrier
from queue import Empty
from typing import Any

import httpx
from _claimer import HttpClaimer
from _stack import bench_stack
from claim_throughput import refill
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from headrace_service import queue

PROGRESS_SECONDS = 10.0


async def raw_drain(database_url: str, pool_id: str, worker_ids: list[str], limit: int) -> int:
    """Claim with the raw statement over one connection per worker until nothing is left."""
    engine = create_async_engine(database_url, pool_size=len(worker_ids), max_overflow=0)
    claimed = 0

    async def claimer(worker_id: str) -> None:
        nonlocal claimed
        while True:
            async with engine.begin() as conn:
                rows = await queue.flow_run_claim(conn, pool_id, worker_id, limit, 30.0)  # type: ignore[arg-type]
            if not rows:
                return
            claimed += len(rows)

    await asyncio.gather(*(claimer(w) for w in worker_ids))
    await engine.dispose()
    return claimed


def http_drain(url: str, index: int, limit: int, ready: Barrier, result: Any) -> None:
    """One claimer process: register, wait for the others, then claim and complete until empty."""

    async def drain() -> list[str]:
        connections = httpx.Limits(max_connections=limit + 1)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=connections) as client:
            claimer = await HttpClaimer.register(client, "bench", f"backlog-{index}", limit)
            await asyncio.to_thread(ready.wait)
            done: list[str] = []
            while True:
                _, run_ids = await claimer.claim()
                if not run_ids:
                    return done
                await claimer.complete_all(run_ids)
                done.extend(run_ids)

    result.put(asyncio.run(drain()))


def count_by_state(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state_type, count(*) FROM flow_run GROUP BY 1")).all()
    engine.dispose()
    return {str(state): int(count) for state, count in rows}


def http_round(url: str, database_url: str, claimers: int, limit: int) -> tuple[list[str], float]:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(claimers + 1)
    results = context.Queue()
    processes = [
        context.Process(target=http_drain, args=(url, i, limit, ready, results))
        for i in range(claimers)
    ]
    for process in processes:
        process.start()
    ready.wait(120)
    started = time.monotonic()
    ids: list[str] = []
    finished = 0
    while finished < claimers:
        try:
            ids.extend(results.get(timeout=PROGRESS_SECONDS))
            finished += 1
        except Empty:  # report progress while the claimers work
            states = count_by_state(database_url)
            print(
                f"  {time.monotonic() - started:6.0f} s: {states.get('COMPLETED', 0)} completed, "
                f"{states.get('SCHEDULED', 0)} waiting",
                flush=True,
            )
    elapsed = time.monotonic() - started
    for process in processes:
        process.join(30)
        if process.exitcode != 0:
            raise SystemExit(f"a claimer process exited with {process.exitcode}")
    return ids, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--claimers", type=int, default=8)
    parser.add_argument("--claim-limit", type=int, default=10)
    args = parser.parse_args()
    with bench_stack() as stack:
        database_url = stack.database_url
        deployment = stack.http.get("/deployments/name/touch/bench").json()
        worker_ids = [
            stack.http.post(
                "/work_pools/bench/workers/heartbeat", json={"name": f"raw-{i}"}
            ).json()["worker_id"]
            for i in range(args.claimers)
        ]

        refill(database_url, deployment["id"], args.runs)
        started = time.monotonic()
        raw_claimed = asyncio.run(
            raw_drain(database_url, deployment["work_pool_id"], worker_ids, args.claim_limit)
        )
        raw_seconds = time.monotonic() - started
        raw_rate = raw_claimed / raw_seconds
        print(f"raw SQL claim: {raw_claimed} runs in {raw_seconds:.1f} s = {raw_rate:.0f} runs/s")

        started = time.monotonic()
        refill(database_url, deployment["id"], args.runs)
        print(f"filled {args.runs} due runs in {time.monotonic() - started:.1f} s")
        ids, seconds = http_round(stack.url, database_url, args.claimers, args.claim_limit)
        http_rate = len(ids) / seconds
        states = count_by_state(database_url)
        print(
            f"HTTP claim + RUNNING + COMPLETED: {len(ids)} runs in {seconds:.1f} s = "
            f"{http_rate:.0f} runs/s = {http_rate / raw_rate:.0%} of the raw claim ceiling"
        )
        print(f"final states: {states}")
        if len(set(ids)) != len(ids) or states != {"COMPLETED": args.runs}:
            raise SystemExit("a run was claimed twice or not completed")


if __name__ == "__main__":
    main()
