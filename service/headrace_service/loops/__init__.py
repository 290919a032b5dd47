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
from headrace_service.loops import event_relay, late_runs, reaper, retention
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


# What each loop does, in the job name APScheduler logs at debug ("Running job ...").
LOOP_NAMES = {
    "reaper": "reaper loop: crash runs whose worker lease expired",
    "scheduler": "scheduler loop: create runs from schedules",
    "late_runs": "late_runs loop: mark overdue scheduled runs Late",
    "retention": "retention loop: delete old finished runs, logs and events",
    "event_relay": "event_relay loop: turn flow run state changes into events",
}


class _QuietRelaySkips(logging.Filter):
    """The relay runs every half second: a pass that outlasts the interval under load is
    normal (the next one catches up), not worth a WARNING each time."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (LOOP_NAMES["event_relay"] in message and "maximum number" in message)


logging.getLogger("apscheduler.scheduler").addFilter(_QuietRelaySkips())


def start_loops(settings: ServerSettings, db: Database) -> AsyncIOScheduler:
    """Start a scheduler running every loop on `db`; `stop_loops` stops it."""
    scheduler = AsyncIOScheduler()

    def add(
        loop_id: str,
        run_once: Callable[[Database], Awaitable[object]],
        seconds: float,
        **options: object,
    ) -> None:
        scheduler.add_job(
            _job(loop_id, db, run_once),
            "interval",
            seconds=seconds,
            id=loop_id,
            name=LOOP_NAMES[loop_id],
            max_instances=1,
            coalesce=True,
            **options,
        )

    add("reaper", reaper.run_once, settings.reaper_interval_seconds)
    add(
        "scheduler",
        partial(
            scheduler_loop.run_once,
            config=scheduler_loop.SchedulerConfig.from_settings(settings),
        ),
        settings.scheduler_interval_seconds,
        next_run_time=datetime.now(UTC),  # runs of a new server are made at once
    )
    add(
        "late_runs",
        partial(late_runs.run_once, late_after_seconds=settings.late_after_seconds),
        settings.late_runs_interval_seconds,
    )
    add(
        "retention",
        partial(retention.run_once, policy=retention.RetentionPolicy.from_settings(settings)),
        settings.retention_interval_seconds,
    )
    add(
        "event_relay",
        partial(event_relay.run_once, heartbeat_seconds=settings.heartbeat_seconds),
        settings.events_relay_interval_seconds,
    )
    scheduler.start()
    return scheduler


def stop_loops(scheduler: AsyncIOScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)
