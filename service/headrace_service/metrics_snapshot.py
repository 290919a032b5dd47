"""The database gauges of /metrics: a few index-backed counts, cached for a few seconds.

Every count here is bounded by an index whatever the size of the history: active runs (the
partial claim index and the (state_type, created) index), runs created in the last hour (the
same index on created), due and late runs per pool (the partial claim index); the scheduler's
lag reads the schedules table, one row per schedule. Finished runs are not counted in full:
that would scan the whole history on every scrape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from headrace._state_types import TERMINAL_TYPES, StateType
from headrace_service.db import Database

SNAPSHOT_TTL_SECONDS = 5.0
RECENT_WINDOW_SECONDS = 3600

ACTIVE_TYPES = [t.value for t in StateType if t not in TERMINAL_TYPES]

ACTIVE_RUNS_SQL = text(
    """
    SELECT state_type::text AS state_type, count(*) AS runs FROM flow_run
    WHERE state_type = ANY(CAST(:types AS state_type[])) GROUP BY 1
    """
)
RECENT_RUNS_SQL = text(
    """
    SELECT state_type::text AS state_type, count(*) AS runs FROM flow_run
    WHERE created > coalesce(:now, now()) - make_interval(secs => :window) GROUP BY 1
    """
)
POOL_QUEUE_SQL = text(
    """
    SELECT wp.name AS pool,
           count(fr.id) AS due,
           count(fr.id) FILTER (WHERE fr.state_name = 'Late') AS late
    FROM work_pool wp
    LEFT JOIN flow_run fr ON fr.work_pool_id = wp.id
        AND fr.state_type = 'SCHEDULED'
        AND fr.next_scheduled_start_time <= coalesce(:now, now())
    GROUP BY wp.name
    """
)

# The schedules a scheduler pass would top up now, and how long the most overdue has waited
# since its bookmark said it needed work (NULL bookmarks, new or reset schedules, have no
# "since" and count only in `due`), and the schedules whose times could not be computed.
# One row per schedule: a small table, scanned whole.
SCHEDULER_LAG_SQL = text(
    """
    SELECT count(*) FILTER (WHERE due) AS due,
           coalesce(max(extract(epoch FROM coalesce(:now, now()) - refill_at))
                    FILTER (WHERE due), 0) AS lag,
           count(*) FILTER (WHERE error IS NOT NULL) AS errored
    FROM (
        SELECT s.refill_at, s.error,
               s.refill_at IS NULL OR s.refill_at <= coalesce(:now, now()) AS due
        FROM deployment_schedule s
        JOIN deployment d ON d.id = s.deployment_id
        WHERE s.active AND NOT d.paused AND d.work_pool_id IS NOT NULL
    ) AS active_schedules
    """
)


@dataclass(frozen=True)
class Snapshot:
    active_runs: dict[str, int]
    recent_runs: dict[str, int]
    due_runs: dict[str, int]
    late_runs: dict[str, int]
    schedules_due: int = 0
    scheduler_lag_seconds: float = 0.0
    schedules_errored: int = 0


async def take_snapshot(database: Database, now: datetime | None = None) -> Snapshot:
    async with database.begin() as conn:
        active = {
            r.state_type: r.runs
            for r in await conn.execute(ACTIVE_RUNS_SQL, {"types": ACTIVE_TYPES})
        }
        recent = {
            r.state_type: r.runs
            for r in await conn.execute(
                RECENT_RUNS_SQL, {"now": now, "window": RECENT_WINDOW_SECONDS}
            )
        }
        pools = list(await conn.execute(POOL_QUEUE_SQL, {"now": now}))
        scheduler = (await conn.execute(SCHEDULER_LAG_SQL, {"now": now})).one()
    return Snapshot(
        active_runs={t: int(active.get(t, 0)) for t in ACTIVE_TYPES},
        recent_runs={t.value: int(recent.get(t.value, 0)) for t in StateType},
        due_runs={p.pool: int(p.due) for p in pools},
        late_runs={p.pool: int(p.late) for p in pools},
        schedules_due=int(scheduler.due),
        scheduler_lag_seconds=max(0.0, float(scheduler.lag)),
        schedules_errored=int(scheduler.errored),
    )


@dataclass
class SnapshotCache:
    """One snapshot per TTL per API process; concurrent scrapes share one query."""

    ttl_seconds: float = SNAPSHOT_TTL_SECONDS
    _snapshot: Snapshot | None = None
    _taken_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, database: Database) -> Snapshot:
        async with self._lock:
            if self._snapshot is None or time.monotonic() - self._taken_at > self.ttl_seconds:
                self._snapshot = await take_snapshot(database)
                self._taken_at = time.monotonic()
            return self._snapshot


class SnapshotCollector(Collector):
    """Turns one snapshot into gauge families for a scrape."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield gauge(
            "headrace_flow_runs_active",
            "Flow runs now in each non-terminal state type.",
            "state_type",
            self.snapshot.active_runs,
        )
        yield gauge(
            "headrace_flow_runs_recent",
            f"Flow runs created in the last {RECENT_WINDOW_SECONDS // 60} minutes, by their "
            "current state type.",
            "state_type",
            self.snapshot.recent_runs,
        )
        yield gauge(
            "headrace_queue_depth",
            "Flow runs due (SCHEDULED, start time passed) and not yet claimed, per work pool.",
            "pool",
            self.snapshot.due_runs,
        )
        yield gauge(
            "headrace_flow_runs_late",
            "Flow runs marked Late (due and not started in time), per work pool.",
            "pool",
            self.snapshot.late_runs,
        )
        yield GaugeMetricFamily(
            "headrace_scheduler_lag_seconds",
            "How long the most overdue schedule has waited for the scheduler to create its "
            "upcoming runs (below the scheduler interval when it keeps up; grows while no "
            "scheduler runs).",
            value=self.snapshot.scheduler_lag_seconds,
        )
        yield GaugeMetricFamily(
            "headrace_scheduler_schedules_due",
            "Active schedules whose upcoming runs the scheduler has yet to top up.",
            value=self.snapshot.schedules_due,
        )
        yield GaugeMetricFamily(
            "headrace_scheduler_schedules_errored",
            "Active schedules whose fire times could not be computed: the scheduler skips them "
            "(the deployment's page and API say why) until they are changed.",
            value=self.snapshot.schedules_errored,
        )


def gauge(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family
