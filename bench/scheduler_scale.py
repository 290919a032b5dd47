"""Scheduler at scale: 10,000 deployments, each with a 1-minute cron.

Runs the scheduler's real pass (`headrace_service.loops.scheduler.run_once`) against an
embedded PostgreSQL (or HEADRACE_BENCH_DATABASE_URL), with the default settings:

1. cold start: passes back to back until every schedule is an hour ahead (the first passes
   are capped at `scheduler_max_runs_per_pass`, soonest runs first);
2. steady state: one pass every 5 s of real time for STEADY_SECONDS, as the server runs it.

Prints how long a pass takes, and how far ahead of (or behind) its start time every run was
created: `created - expected_start_time` over all runs; no run may be created late.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import text

from headrace_service.db import Database, create_engine
from headrace_service.loops import scheduler
from headrace_service.migrations import upgrade

DEPLOYMENTS = int(os.environ.get("BENCH_DEPLOYMENTS", "10000"))
STEADY_SECONDS = float(os.environ.get("BENCH_STEADY_SECONDS", "60"))
INTERVAL_SECONDS = 5.0

SEED = """
WITH f AS (INSERT INTO flow (name) VALUES ('bench') RETURNING id),
     p AS (INSERT INTO work_pool (name, type) VALUES ('bench', 'process') RETURNING id),
     q AS (INSERT INTO work_queue (work_pool_id, name) SELECT id, 'default' FROM p
           RETURNING id, work_pool_id),
     d AS (INSERT INTO deployment (flow_id, name, entrypoint, work_pool_id, work_queue_id)
           SELECT f.id, 'd' || n, 'flows.py:bench', q.work_pool_id, q.id
           FROM f, q, generate_series(1, :count) AS n RETURNING id)
INSERT INTO deployment_schedule (deployment_id, schedule)
SELECT id, '{"cron": "* * * * *", "timezone": "UTC"}' FROM d
"""


def database_url() -> tuple[str, object | None, str | None]:
    given = os.environ.get("HEADRACE_BENCH_DATABASE_URL")
    if given:
        return given, None, None
    import pgserver

    from headrace_service.embedded import sqlalchemy_url_for_socket

    folder = tempfile.mkdtemp(prefix="hrb-", dir="/tmp")
    server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    server.psql("CREATE DATABASE bench_scheduler;")
    return sqlalchemy_url_for_socket(folder, "bench_scheduler"), server, folder


async def timed_pass(db: Database) -> tuple[float, scheduler.PassResult]:
    started = time.perf_counter()
    result = await scheduler.run_once(db, datetime.now(UTC))
    return time.perf_counter() - started, result


async def bench(url: str) -> None:
    db = Database(create_engine(url, pool_size=2, pool_timeout=30))
    async with db.begin() as conn:
        await conn.execute(text(SEED), {"count": DEPLOYMENTS})
    print(f"{DEPLOYMENTS} deployments, each with a cron '* * * * *' schedule")

    cold: list[tuple[float, scheduler.PassResult]] = []
    while True:
        seconds, result = await timed_pass(db)
        cold.append((seconds, result))
        if result.created < scheduler.SchedulerConfig().max_runs_per_pass:
            break
    total = sum(s for s, _ in cold)
    created = sum(r.created for _, r in cold)
    print(
        f"cold start: {len(cold)} passes created {created} runs in {total:.1f} s; "
        f"first pass {cold[0][0]:.2f} s ({cold[0][1].created} runs), "
        f"slowest {max(s for s, _ in cold):.2f} s"
    )

    steady: list[tuple[float, scheduler.PassResult]] = []
    deadline = time.monotonic() + STEADY_SECONDS
    while time.monotonic() < deadline:
        tick = time.monotonic()
        steady.append(await timed_pass(db))
        await asyncio.sleep(max(0.0, INTERVAL_SECONDS - (time.monotonic() - tick)))
    durations = [s for s, _ in steady]
    print(
        f"steady state: {len(steady)} passes over {STEADY_SECONDS:.0f} s created "
        f"{sum(r.created for _, r in steady)} runs for "
        f"{sum(r.schedules for _, r in steady)} schedule top-ups; pass median "
        f"{statistics.median(durations):.3f} s, max {max(durations):.3f} s"
    )

    async with db.begin() as conn:
        lead = (
            await conn.execute(
                text(
                    """
                    SELECT count(*) AS runs,
                           count(*) FILTER (WHERE created > expected_start_time) AS late,
                           extract(epoch FROM min(expected_start_time - created)) AS min_lead,
                           extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (
                               ORDER BY expected_start_time - created)) AS median_lead
                    FROM flow_run
                    """
                )
            )
        ).one()
    print(
        f"runs: {lead.runs}; created after their start time: {lead.late}; "
        f"smallest lead (start - created): {float(lead.min_lead):.1f} s; "
        f"median lead: {float(lead.median_lead) / 60:.1f} min"
    )
    await db.dispose()


def main() -> None:
    url, server, folder = database_url()
    try:
        upgrade(url)
        asyncio.run(bench(url))
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
