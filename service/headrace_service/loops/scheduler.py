"""The scheduler: turns every active schedule into upcoming SCHEDULED runs, ahead of time.

A pass, under a transaction-level advisory lock (one leader among API replicas):

1. skips missed runs: of each schedule's overdue never-started runs, only the newest stays
   (unless its deployment has `catchup`), so downtime is not followed by a burst;
2. reads the schedules whose bookmark says they need topping up, with their upcoming runs;
3. plans the new fire times — soonest first across all schedules, at most
   `max_runs_per_pass` — keeping each schedule at least `min_runs` runs and `min_time` ahead,
   and at most `max_runs` runs and `max_time` ahead;
4. inserts them in one statement, each with the idempotency key `schedule:{id}:{UTC time}`
   under a unique index, so two schedulers racing, a restart or a clock step never make a
   double; and stores each schedule's bookmark (the last time made, and when it next needs
   work), so a steady-state pass only touches the schedules that need a run.

Times already past when a schedule is first seen, or missed while no scheduler ran, are not
created (and counted in the log) unless the deployment has `catchup`.
"""

from __future__ import annotations

import heapq
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import anyio.to_thread
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.engine import RowMapping

from headrace.schemas.schedules import Schedule
from headrace_service import metrics, queue
from headrace_service.concurrency_keys import scheduled_key
from headrace_service.db import Database
from headrace_service.names import friendly_name
from headrace_service.schedule_budget import PASS_SECONDS, ScheduleTooSlow, within_budget
from headrace_service.schedules import TICK, Timetable, timetable
from headrace_service.settings import ServerSettings
from headrace_service.store import schedules as store

log = logging.getLogger("headrace.scheduler")

# Fixed advisory-lock key of the scheduler (the reaper has 7_142_101).
SCHEDULER_LOCK_KEY = 7_142_102
# When a schedule has nothing left to fire (an RRULE with COUNT or UNTIL): look again rarely.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
# A schedule stored before a library change made it invalid: retried this much later.
INVALID_RETRY = timedelta(hours=1)
# Counting the times missed during downtime is only for the log: bounded.
MISSED_COUNT_LIMIT = 1000
_SCHEDULE = TypeAdapter(Schedule)
TIMETABLE_CACHE_SIZE = 20_000
# A pass plans in its transaction: it stops taking schedules well before the database's
# idle-in-transaction timeout (60 s) would end it, even if many take their whole time budget.
PLANNING_SECONDS = 20.0


@dataclass(frozen=True)
class SchedulerConfig:
    min_runs: int = 3
    min_time: timedelta = timedelta(hours=1)
    max_runs: int = 100
    max_time: timedelta = timedelta(days=100)
    max_runs_per_pass: int = 5000

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> SchedulerConfig:
        return cls(
            min_runs=settings.scheduler_min_runs,
            min_time=timedelta(seconds=settings.scheduler_min_time_seconds),
            max_runs=settings.scheduler_max_runs,
            max_time=timedelta(seconds=settings.scheduler_max_time_seconds),
            max_runs_per_pass=settings.scheduler_max_runs_per_pass,
        )


@dataclass
class PassResult:
    leader: bool
    schedules: int = 0  # schedules that needed topping up
    created: int = 0  # runs inserted (planned minus those whose key existed)
    planned: int = 0
    skipped_overdue: int = 0  # waiting runs cancelled as Skipped (no catchup)
    missed_not_created: int = 0  # past fire times never created (no catchup)


async def run_once(
    db: Database, now: datetime | None = None, *, config: SchedulerConfig | None = None
) -> PassResult:
    """One pass at `now`; `leader=False` when another replica holds the scheduler's lock."""
    now = now or datetime.now(UTC)
    config = config or SchedulerConfig()
    async with db.begin() as conn:
        locked = await conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}
        )
        if not locked.scalar_one():
            return PassResult(leader=False)
        skipped = await queue.flow_run_skip_missed(conn, now)
        due = await store.schedules_due(conn, now, config.max_runs)
        # Off the event loop: a schedule may take its whole time budget.
        plan = await anyio.to_thread.run_sync(plan_pass, due, now, config)
        created = await queue.flow_run_create_scheduled_many(conn, plan.runs, now)
        await store.schedule_bookmarks_set(conn, plan.bookmarks)
    result = PassResult(
        leader=True,
        schedules=len(due),
        created=created,
        planned=len(plan.runs),
        skipped_overdue=skipped,
        missed_not_created=plan.missed,
    )
    if skipped or plan.missed:
        log.warning(
            "missed schedule times (catchup off): %d waiting runs skipped, %d past times "
            "not created",
            skipped,
            plan.missed,
        )
    if created:
        log.info("scheduled %d runs for %d schedules", created, len(due))
        metrics.SCHEDULED_RUNS.inc(created)
    return result


@dataclass
class Plan:
    runs: list[queue.ScheduledRun] = field(default_factory=list)
    bookmarks: list[store.Bookmark] = field(default_factory=list)
    missed: int = 0


def plan_pass(due: list[RowMapping], now: datetime, config: SchedulerConfig) -> Plan:
    """The runs to create: fire times of all due schedules merged soonest first, so that a
    budget cut never leaves a near run uncreated while a far one was."""
    plan = Plan()
    schedules: list[_Schedule] = []
    planning_ends = time.monotonic() + PLANNING_SECONDS
    for row in due:
        if time.monotonic() > planning_ends:
            break  # the others keep their bookmarks: still due, taken by the next pass
        try:
            schedules.append(within_budget(partial(_Schedule, row, now, config), PASS_SECONDS))
        except (ValueError, ArithmeticError, ScheduleTooSlow) as exc:
            # Stored before a check existed or a library changed: this schedule is marked and
            # retried later; every other schedule of the pass goes on.
            log.warning("schedule %s cannot be computed: %s", row["schedule_id"], exc)
            plan.bookmarks.append(
                store.Bookmark(row["schedule_id"], None, now + INVALID_RETRY, error=str(exc))
            )
    heap = [(s.pending, i) for i, s in enumerate(schedules) if s.pending is not None]
    heapq.heapify(heap)
    while heap and len(plan.runs) < config.max_runs_per_pass:
        when, i = heap[0]
        schedule = schedules[i]
        if not schedule.wants(when):
            heapq.heappop(heap)  # this schedule is full; `pending` is its next candidate
            continue
        plan.runs.append(schedule.accept(when))
        if schedule.pending is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (schedule.pending, i))
    cut = {i for _, i in heap if schedules[i].wants(schedules[i].pending)}  # budget ran out
    for i, schedule in enumerate(schedules):
        plan.missed += schedule.missed
        if i in cut and not schedule.accepted:
            continue  # untouched and still due: its bookmark is right as it is
        plan.bookmarks.append(schedule.bookmark(cut_short=i in cut))
    return plan


class _Schedule:
    """One due schedule during planning: its next candidate time and what it has."""

    def __init__(self, row: RowMapping, now: datetime, config: SchedulerConfig) -> None:
        self.row, self.now, self.config = row, now, config
        table = cached_timetable(json.dumps(row["schedule"], sort_keys=True))
        horizon: datetime | None = row["materialized_until"]
        self.catchup = bool(row["catchup"]) and horizon is not None
        self.missed = 0
        if horizon is None:
            after = now - TICK  # a new (or reset) schedule starts now, never in the past
        elif self.catchup:
            after = horizon
        else:
            after = max(horizon, now - TICK)
            if horizon < now:
                self.missed = _count_before(table.times_after(horizon), now)
        # Computed here, under the caller's time budget, never later while planning.
        self.times: Iterator[datetime] = iter(_candidates(table.times_after(after), now, config))
        self.upcoming: list[datetime] = list(row["upcoming"])
        self.accepted: list[datetime] = []
        self.caught_up = 0
        self.pending: datetime | None = next(self.times, None)

    def future_count(self) -> int:
        return len(self.upcoming) + len(self.accepted) - self.caught_up

    def wants(self, when: datetime | None) -> bool:
        if when is None:
            return False
        if when < self.now:  # only with catchup; a burst is still bounded per pass
            return self.caught_up < self.config.max_runs
        count = self.future_count()
        if count >= self.config.max_runs or when > self.now + self.config.max_time:
            return False
        return count < self.config.min_runs or when <= self.now + self.config.min_time

    def accept(self, when: datetime) -> queue.ScheduledRun:
        self.accepted.append(when)
        if when < self.now:
            self.caught_up += 1
        self.pending = next(self.times, None)
        row = self.row
        parameters = {**row["parameters"], **row["schedule_parameters"]}
        return queue.ScheduledRun(
            name=friendly_name(),
            flow_id=row["flow_id"],
            deployment_id=row["deployment_id"],
            schedule_id=row["schedule_id"],
            work_pool_id=row["work_pool_id"],
            work_queue_id=row["work_queue_id"],
            priority=row["priority"],
            parameters=parameters,
            tags=list(row["tags"]),
            max_retries=row["max_retries"],
            retry_delay_seconds=row["retry_delay_seconds"],
            start=when,
            idempotency_key=idempotency_key(row["schedule_id"], when),
            concurrency_key=scheduled_key(row["concurrency_key"], parameters),
        )

    def bookmark(self, *, cut_short: bool) -> store.Bookmark:
        last = self.accepted[-1] if self.accepted else None
        return store.Bookmark(self.row["schedule_id"], last, self._refill_at(cut_short))

    def _refill_at(self, cut_short: bool) -> datetime:
        """The first moment a pass would create something for this schedule again."""
        if cut_short:
            return self.now
        if self.pending is None:
            return NEVER
        config, candidate = self.config, self.pending
        future = sorted([*self.upcoming, *(t for t in self.accepted if t >= self.now)])
        # The candidate enters the max_time window; below max_runs again; and either fewer
        # than min_runs remain, or the candidate enters the min_time window.
        enters_window = candidate - config.max_time
        below_max = _when_fewer_than(future, config.max_runs)
        below_min = _when_fewer_than(future, config.min_runs)
        needs_more = min(below_min, candidate - config.min_time)
        return max(enters_window, below_max, needs_more, self.now + TICK)


@lru_cache(maxsize=TIMETABLE_CACHE_SIZE)
def cached_timetable(schedule_json: str) -> Timetable:
    """Compiling a trigger costs far more than asking it for a time, and timetables hold no
    state, so schedules with the same definition share one (thousands often do)."""
    return timetable(_SCHEDULE.validate_python(json.loads(schedule_json)))


def _when_fewer_than(future: list[datetime], n: int) -> datetime:
    """When fewer than `n` of these start times are still ahead."""
    return future[-n] + TICK if len(future) >= n else datetime.min.replace(tzinfo=UTC)


def _candidates(
    times: Iterator[datetime], now: datetime, config: SchedulerConfig
) -> list[datetime]:
    """Every time the planner may take from a schedule in one pass: at most `max_runs` past ones
    (catchup) and `max_runs` ahead within `max_time`, then the next one after those."""
    window_end = now + config.max_time
    taken: list[datetime] = []
    for when in times:
        taken.append(when)
        if when > window_end or len(taken) > 2 * config.max_runs:
            break
    return taken


def _count_before(times: Iterator[datetime], end: datetime) -> int:
    count = 0
    for when in times:
        if when >= end or count >= MISSED_COUNT_LIMIT:
            break
        count += 1
    return count


def idempotency_key(schedule_id: Any, when: datetime) -> str:
    return f"schedule:{schedule_id}:{when.astimezone(UTC).isoformat()}"
