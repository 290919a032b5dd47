"""Background loops of the API process, run by one APScheduler per process.

Each loop lives in its own module with a `run_once(db, now)` that tests call directly; the
scheduler only calls it at its interval. Each pass guards itself with a Postgres advisory lock,
so any number of API replicas run every loop once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from headrace_service.db import Database
from headrace_service.loops import late_runs, reaper, retention
from headrace_service.loops import scheduler as scheduler_loop
from headrace_service.metrics import loop_succeeded
from headrace_service.settings import ServerSettings

log = logging.getLogger("headrace.loops")


def _job(
    name: str, db: Database, run_once: Callable[[Database], Awaitable[object]]
) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        try:
            await run_once(db)
            loop_succeeded(name)
        except Exception:  # a failed pass is logged and retried at the next interval
            log.exception("background loop %s failed; retrying at its next interval", name)

    return job


def start_loops(settings: ServerSettings, db: Database) -> AsyncIOScheduler:
    """Start a scheduler running every loop on `db`; `stop_loops` stops it."""
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        _job("reaper", db, reaper.run_once),
        "interval",
        seconds=settings.reaper_interval_seconds,
        id="reaper",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _job(
            "scheduler",
            db,
            partial(
                scheduler_loop.run_once,
                config=scheduler_loop.SchedulerConfig.from_settings(settings),
            ),
        ),
        "interval",
        seconds=settings.scheduler_interval_seconds,
        id="scheduler",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # runs of a new server are made at once
    )
    scheduler.add_job(
        _job(
            "late_runs",
            db,
            partial(late_runs.run_once, late_after_seconds=settings.late_after_seconds),
        ),
        "interval",
        seconds=settings.late_runs_interval_seconds,
        id="late_runs",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _job(
            "retention",
            db,
            partial(retention.run_once, policy=retention.RetentionPolicy.from_settings(settings)),
        ),
        "interval",
        seconds=settings.retention_interval_seconds,
        id="retention",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def stop_loops(scheduler: AsyncIOScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)
