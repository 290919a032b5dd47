"""Soak: runs created, claimed and completed at a steady rate for minutes; does the queue age?

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 12] [--claimers 4] [--claim-limit 1]
        [--history 0] [--flow-run-options 'autovacuum_vacuum_threshold = 2000']
    .venv/bin/python bench/soak.py --ramp [--rate 10] [--step 10] [--stage-seconds 30]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py). `--producers`
clients create runs of the deployment `touch/bench` through `POST .../runs` at `--rate` runs/s;
`--claimers` clients act as workers through the HTTP API (_claimer.py): claim with
`wait_seconds=0` (pausing `--idle` seconds after an empty claim), then RUNNING and COMPLETED
for each run. Every minute it prints the claim latency p50/p99 (claims that took a run), the
rates achieved, live tuples, dead tuples (flow_run: the highest of samples taken every 5 s) and
size of flow_run and flow_run_state (pg_stat_user_tables), the size of the claim index and how
often autovacuum ran. At the end: claim p99 of the last
minute over the first (target <= 2x) and whether dead tuples stayed bounded. It asserts nothing.

`--ramp` finds the highest rate this machine sustains: stages of `--stage-seconds` from `--rate`
up by `--step` until a stage is not sustained (fewer than 95% of the target completed, or the
backlog of waiting runs grows), then prints the last sustained rate.

`--history N` first inserts N finished runs (as bench/claim_after_history.py does): churn on
a long history is the harder case for dead tuples wherever the autovacuum threshold is a share
of the table. `--flow-run-options` tries other autovacuum settings on flow_run (storage
parameters, as in `ALTER TABLE flow_run SET (...)`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from _claimer import HttpClaimer
from _stack import bench_stack, percentile
from claim_after_history import HISTORY
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TABLES = ("flow_run", "flow_run_state")
CLAIM_INDEX = "ix_flow_run_claim"
HEARTBEAT_SECONDS = 10.0
DEAD_SAMPLE_SECONDS = 5.0


@dataclass
class Window:
    """What happened since the last report."""

    started: float = field(default_factory=time.monotonic)
    claim_latencies: list[float] = field(default_factory=list)
    empty_claims: int = 0
    created: int = 0
    completed: int = 0
    max_dead: int = 0  # flow_run's dead tuples, highest of the samples taken in the window


@dataclass
class Load:
    client: httpx.AsyncClient
    claimers: list[HttpClaimer]
    rate: float
    idle: float
    window: Window = field(default_factory=Window)
    created_total: int = 0
    completed_total: int = 0
    next_at: float = field(default_factory=time.monotonic)
    stopping: bool = False

    def take_window(self) -> Window:
        done, self.window = self.window, Window()
        return done

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.next_at = max(self.next_at, time.monotonic())

    async def produce(self) -> None:
        """Create runs on a shared schedule of 1/rate apart (several producers share it)."""
        while not self.stopping:
            due, self.next_at = self.next_at, self.next_at + 1 / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            response = await self.client.post("/deployments/name/touch/bench/runs", json={})
            response.raise_for_status()
            self.window.created += 1
            self.created_total += 1

    async def consume(self, claimer: HttpClaimer) -> None:
        while not self.stopping:
            latency, run_ids = await claimer.claim()
            if not run_ids:
                self.window.empty_claims += 1
                await asyncio.sleep(self.idle)
                continue
            self.window.claim_latencies.append(latency)
            await claimer.complete_all(run_ids)
            self.window.completed += len(run_ids)
            self.completed_total += len(run_ids)

    async def watch_dead_tuples(self, engine: AsyncEngine) -> None:
        """Sample flow_run's dead tuples every few seconds: autovacuum runs between reports."""
        while not self.stopping:
            await asyncio.sleep(DEAD_SAMPLE_SECONDS)
            dead = (await table_stats(engine))["flow_run"]["n_dead_tup"]
            self.window.max_dead = max(self.window.max_dead, dead)

    async def keep_alive(self) -> None:
        while not self.stopping:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for index, claimer in enumerate(self.claimers):
                await claimer.heartbeat(f"soak-{index}")


def add_history(database_url: str, deployment_id: str, runs: int) -> None:
    """`runs` finished runs (one state row each) already in the table, as after months of use."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    started = time.monotonic()
    with engine.connect() as conn:
        conn.execute(text(HISTORY), {"n": runs, "deployment_id": deployment_id})
        conn.execute(text("VACUUM ANALYZE flow_run"))
        conn.execute(text("VACUUM ANALYZE flow_run_state"))
    engine.dispose()
    print(f"history: {runs} finished runs inserted in {time.monotonic() - started:.0f} s")


def set_flow_run_options(database_url: str, options: str) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"ALTER TABLE flow_run SET ({options})"))
        reloptions = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'flow_run'")
        ).scalar_one()
    engine.dispose()
    print(f"flow_run options: {reloptions}")


async def table_stats(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    SELECT relname, n_live_tup, n_dead_tup, autovacuum_count,
                           pg_total_relation_size(relid) AS total_bytes
                    FROM pg_stat_user_tables WHERE relname = ANY(:tables)
                    """
                ),
                {"tables": list(TABLES)},
            )
        ).mappings()
        stats: dict[str, Any] = {row["relname"]: dict(row) for row in rows}
        stats["claim_index_bytes"] = (
            await conn.execute(
                text("SELECT pg_relation_size(CAST(:i AS regclass))"), {"i": CLAIM_INDEX}
            )
        ).scalar_one()
    return stats


HEADER = (
    f"{'min':>4} {'target/s':>8} {'created/s':>9} {'done/s':>7} {'backlog':>7} {'empty':>6} "
    f"{'p50 ms':>7} {'p99 ms':>7} | {'run live':>8} {'dead max':>8} {'run MB':>7} {'avac':>4} "
    f"| {'state live':>10} {'state dead':>10} {'state MB':>8} | {'claim ix kB':>11}"
)


def report(label: str, load: Load, window: Window, stats: dict[str, Any]) -> dict[str, Any]:
    seconds = time.monotonic() - window.started
    latencies = window.claim_latencies or [0.0]
    run, state = stats["flow_run"], stats["flow_run_state"]
    row = {
        "label": label,
        "target": load.rate,
        "created_per_s": window.created / seconds,
        "completed_per_s": window.completed / seconds,
        "backlog": load.created_total - load.completed_total,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "run_dead": max(window.max_dead, run["n_dead_tup"]),
    }
    print(
        f"{label:>4} {load.rate:>8.0f} {row['created_per_s']:>9.1f} "
        f"{row['completed_per_s']:>7.1f} {row['backlog']:>7} {window.empty_claims:>6} "
        f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} | {run['n_live_tup']:>8} "
        f"{row['run_dead']:>8} {run['total_bytes'] / 2**20:>7.1f} {run['autovacuum_count']:>4} "
        f"| {state['n_live_tup']:>10} {state['n_dead_tup']:>10} "
        f"{state['total_bytes'] / 2**20:>8.1f} | {stats['claim_index_bytes'] / 1024:>11.0f}",
        flush=True,
    )
    return row


async def run_load(stack_url: str, database_url: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.producers + args.claimers + 4)
    engine = create_async_engine(database_url, pool_size=2, max_overflow=0)
    async with httpx.AsyncClient(base_url=stack_url, timeout=60, limits=limits) as client:
        claimers = [
            await HttpClaimer.register(client, "bench", f"soak-{i}", args.claim_limit)
            for i in range(args.claimers)
        ]
        load = Load(client, claimers, args.rate, args.idle)
        tasks = [asyncio.create_task(load.produce()) for _ in range(args.producers)]
        tasks += [asyncio.create_task(load.consume(c)) for c in claimers]
        tasks.append(asyncio.create_task(load.keep_alive()))
        tasks.append(asyncio.create_task(load.watch_dead_tuples(engine)))
        print(HEADER, flush=True)
        try:
            if args.ramp:
                await ramp(load, engine, args)
            else:
                await soak(load, engine, args)
        finally:
            load.stopping = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await engine.dispose()


async def soak(load: Load, engine: AsyncEngine, args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    load.take_window()
    for minute in range(1, args.minutes + 1):
        await asyncio.sleep(args.report_seconds)
        window = load.take_window()
        rows.append(report(str(minute), load, window, await table_stats(engine)))
    first, last = rows[0], rows[-1]
    ratio = last["p99_ms"] / first["p99_ms"] if first["p99_ms"] else float("inf")
    print(
        f"\nclaim p99: minute 1 {first['p99_ms']:.1f} ms, minute {len(rows)} "
        f"{last['p99_ms']:.1f} ms, ratio {ratio:.2f} (target <= 2)"
    )
    half = max(1, len(rows) // 2)
    early = max(r["run_dead"] for r in rows[:half])
    late = max(r["run_dead"] for r in rows[half:]) if rows[half:] else early
    verdict = "bounded" if late <= 2 * max(early, 1000) else "GROWING"
    print(f"flow_run dead tuples: max {early} in the first half, {late} in the second: {verdict}")
    sustained = all(r["completed_per_s"] >= 0.95 * load.rate for r in rows)
    print(f"rate {load.rate:.0f}/s sustained every minute: {'yes' if sustained else 'NO'}")


async def ramp(load: Load, engine: AsyncEngine, args: argparse.Namespace) -> None:
    best = None
    rate = args.rate
    while True:
        load.set_rate(rate)
        backlog_before = load.created_total - load.completed_total
        load.take_window()
        await asyncio.sleep(args.stage_seconds)
        window = load.take_window()
        row = report(f"r{rate:.0f}", load, window, await table_stats(engine))
        growth = row["backlog"] - backlog_before
        if row["completed_per_s"] < 0.95 * rate or growth > rate:
            break
        best = rate
        rate += args.step
    print(
        f"\nhighest sustained rate: {best if best is not None else 'none'} runs/s "
        f"(stages of {args.stage_seconds:.0f} s; failed at {rate:.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument(
        "--report-seconds", type=float, default=60.0, help="length of a reported 'minute'"
    )
    parser.add_argument("--rate", type=float, default=12.0, help="runs created per second")
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--claimers", type=int, default=4)
    parser.add_argument("--claim-limit", type=int, default=1)
    parser.add_argument("--idle", type=float, default=0.2, help="pause after an empty claim")
    parser.add_argument("--history", type=int, default=0, help="finished runs added first")
    parser.add_argument(
        "--flow-run-options",
        help="storage parameters to try on flow_run first, e.g. "
        "'autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000'",
    )
    parser.add_argument("--ramp", action="store_true", help="find the highest sustained rate")
    parser.add_argument("--step", type=float, default=10.0)
    parser.add_argument("--stage-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with bench_stack() as stack:
        if args.history:
            add_history(stack.database_url, stack.deployment_id("touch/bench"), args.history)
        if args.flow_run_options:
            set_flow_run_options(stack.database_url, args.flow_run_options)
        asyncio.run(run_load(stack.url, stack.database_url, args))


if __name__ == "__main__":
    main()
