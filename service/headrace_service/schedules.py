"""When a schedule fires: its times, computed by APScheduler's triggers and dateutil's rrule.

No calendar arithmetic is done here; this module only adapts the libraries to three rules of
ours that they do not share:

- crontab's day-of-week numbers (0 or 7 = Sunday) are given to APScheduler 3 as names, because
  APScheduler 3 counts 0 as Monday (its documented historical mistake);
- crontab's day rule: when both day-of-month and day-of-week are restricted, a day matching
  either runs (vixie cron), which is an OrTrigger of two triggers;
- daylight saving: a wall-clock time that happens twice (autumn) fires once, at its first
  occurrence, unless the hour field is `*` (a job that runs every hour keeps running every
  real hour). A time that does not exist (spring) fires once, just after the gap — what the
  libraries already do.

Every time returned is an aware datetime in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import anyio.to_thread
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule, rruleset, rrulestr

from headrace.schemas.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    cron_error,
    rrule_error,
)
from headrace_service.errors import InvalidInput
from headrace_service.schedule_budget import CHECK_SECONDS, ScheduleTooSlow, within_budget

AnySchedule = CronSchedule | IntervalSchedule | RRuleSchedule

# The start of interval and RRULE schedules that name none: a constant, so that every server
# (and every pass) computes exactly the same times, and idempotency keys stay stable.
DEFAULT_ANCHOR = datetime(2020, 1, 1)
CRONTAB_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
TICK = timedelta(microseconds=1)


def _just_after(when: datetime) -> datetime:
    # In UTC: aware arithmetic in a zone works on wall time and drops `fold`, so one
    # microsecond after the autumn's second 02:30 would be the first 02:30 again.
    return when.astimezone(UTC) + TICK


class InvalidSchedule(ValueError):
    """A schedule the calendar libraries reject; the message names the field."""


class Timetable(Protocol):
    def times_after(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after `after`, ascending, in UTC; ends if the schedule does."""
        ...


def timetable(schedule: AnySchedule) -> Timetable:
    """Compile a schedule; InvalidSchedule when its expression cannot fire."""
    if isinstance(schedule, CronSchedule):
        table: Timetable = CronTimetable(schedule.cron, ZoneInfo(schedule.timezone))
    elif isinstance(schedule, IntervalSchedule):
        table = IntervalTimetable(schedule)
    else:
        table = RRuleTimetable(schedule.rrule, ZoneInfo(schedule.timezone))
    return table


# The API asks for the first fire time after this far ahead too, so that a stored schedule is
# one whose times the scheduler (at most `scheduler_max_time_seconds` ahead, 100 days by
# default) can compute within the budget for at least this long.
PROBE_AHEAD = timedelta(days=366)


async def check_schedule(schedule: AnySchedule, where: str, now: datetime) -> None:
    """A 422 naming `where` and the field for a schedule that cannot fire, whose times overflow
    the calendar, or whose times take too long to compute. Off the event loop: the probe may
    use its whole budget."""
    try:
        await anyio.to_thread.run_sync(within_budget, partial(probe, schedule, now), CHECK_SECONDS)
    except InvalidSchedule as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    except ScheduleTooSlow as exc:
        raise InvalidInput(
            f"{where}: {schedule_field(schedule)}: {exc} (a rule that fires rarely or never, or "
            "a long COUNT, makes every computation walk it); simplify it or give it a DTSTART "
            "closer to now"
        ) from None


def probe(schedule: AnySchedule, now: datetime) -> None:
    """Compile the schedule and compute its next time, now and a year ahead."""
    table = timetable(schedule)
    try:
        first = next(table.times_after(now), None)
        next(table.times_after(now + PROBE_AHEAD), None)
    except (ValueError, OverflowError) as exc:
        raise InvalidSchedule(
            f"{schedule_field(schedule)}: its fire times cannot be computed ({exc})"
        ) from None
    if first is None:
        raise InvalidSchedule(f"{schedule_field(schedule)}: it never fires after now")


def schedule_field(schedule: AnySchedule) -> str:
    """The field a person changes to fix the schedule's times."""
    if isinstance(schedule, CronSchedule):
        return "cron"
    if isinstance(schedule, IntervalSchedule):
        return "anchor_date" if schedule.anchor_date is not None else "interval"
    return "rrule"


def next_times(schedule: AnySchedule, after: datetime, count: int) -> list[datetime]:
    times = []
    for when in timetable(schedule).times_after(after):
        times.append(when)
        if len(times) >= count:
            break
    return times


class CronTimetable:
    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.zone = zone
        minute, hour, day, month, weekday = expression.split()
        self.every_hour = hour == "*"
        try:
            weekdays = crontab_weekdays(weekday)
            common: dict[str, Any] = {"minute": minute, "hour": hour, "month": month}
            if day.startswith("*") or weekday.startswith("*"):
                self.trigger: BaseTrigger = CronTrigger(
                    day=day, day_of_week=weekdays, timezone=zone, **common
                )
            else:  # both restricted: either matching day runs, as in cron
                self.trigger = OrTrigger(
                    [
                        CronTrigger(day=day, timezone=zone, **common),
                        CronTrigger(day_of_week=weekdays, timezone=zone, **common),
                    ]
                )
        except ValueError as exc:
            raise InvalidSchedule(cron_error(expression, str(exc))) from None
        if next(self.times_after(datetime(2026, 1, 1, tzinfo=UTC)), None) is None:
            raise InvalidSchedule(cron_error(expression, "it never fires"))

    def times_after(self, after: datetime) -> Iterator[datetime]:
        now = _just_after(after)
        while True:
            when = self.trigger.get_next_fire_time(None, now)
            if when is None:
                return
            now = _just_after(when)
            if _is_repeated_wall_time(when) and not self.every_hour:
                continue
            yield when.astimezone(UTC)


def _is_repeated_wall_time(when: datetime) -> bool:
    """The second occurrence of a wall-clock time that the autumn change repeats."""
    return when.utcoffset() != when.replace(fold=0).utcoffset()


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 day names (`1-5` -> `mon,tue,...,fri`)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, "step", 1, 7) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, _, high = span.partition("-")
            first, last = _weekday(low), _weekday(high)
            if last < first and last == 0:
                last = 7  # `5-0` reads as Friday to Sunday
        else:
            first = _weekday(span)
            last = 7 if step_text else first
        if last < first:
            raise ValueError(f"day-of-week range {span!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(CRONTAB_WEEKDAYS[day] for day in sorted(days))


def _weekday(token: str) -> int:
    if token in CRONTAB_WEEKDAYS:
        return CRONTAB_WEEKDAYS.index(token)
    return _number(token, "day of week", 0, 7)


def _number(token: str, what: str, low: int, high: int) -> int:
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"{what} {token!r} is not between {low} and {high}")
    return int(token)


class IntervalTimetable:
    def __init__(self, schedule: IntervalSchedule) -> None:
        zone = ZoneInfo(schedule.timezone)
        anchor = schedule.anchor_date or DEFAULT_ANCHOR
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=zone)
        self.trigger = IntervalTrigger(seconds=schedule.interval, start_date=anchor, timezone=zone)

    def times_after(self, after: datetime) -> Iterator[datetime]:
        now = _just_after(after)
        while True:
            when = self.trigger.get_next_fire_time(None, now)
            if when is None:  # pragma: no cover - an interval without end never ends
                return
            yield when.astimezone(UTC)
            now = _just_after(when)


class RRuleTimetable:
    """Iterates the rule in local wall-clock time of `zone` (naive), then places each time in
    the zone: a repeated wall time is the first occurrence, a missing one lands after the gap."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.zone = zone
        try:
            self.rules: rruleset = rrulestr(expression, dtstart=DEFAULT_ANCHOR, forceset=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidSchedule(rrule_error(expression, str(exc) or type(exc).__name__)) from None
        self.aware = _rules_are_aware(self.rules)

    def times_after(self, after: datetime) -> Iterator[datetime]:
        cursor: datetime = after.astimezone(self.zone)
        if not self.aware:
            cursor = cursor.replace(tzinfo=None)
        for local in _started_near(self.rules, cursor):
            if local <= cursor:
                continue
            when = local if self.aware else local.replace(tzinfo=self.zone)
            if when > after:
                yield when.astimezone(UTC)


# dateutil keeps a rule set's parts and a rule's fields in private attributes and has no public
# reader for them; they have kept these names since dateutil 2.0. Read here and nowhere else.


def _rules_are_aware(rules: rruleset) -> bool:
    """A DTSTART with TZID or Z makes the rule's times aware; else they are wall-clock times."""
    starts = [r._dtstart for r in rules._rrule] + list(rules._rdate)
    return any(start.tzinfo is not None for start in starts)


# A rule of these frequencies, moved forward by whole periods, keeps its occurrences: the
# fields it takes by default from DTSTART (the second of a MINUTELY rule, the weekday of a
# WEEKLY one) are the same, and so is its INTERVAL grid. Months and years have no fixed length.
_PERIODS = {
    SECONDLY: timedelta(seconds=1),
    MINUTELY: timedelta(minutes=1),
    HOURLY: timedelta(hours=1),
    DAILY: timedelta(days=1),
    WEEKLY: timedelta(weeks=1),
}


def _started_near(rules: rruleset, cursor: datetime) -> rruleset:
    """The same set with each rule started just before `cursor`, when that keeps its times:
    dateutil walks every period from DTSTART, so a MINUTELY rule from 2020 costs millions of
    steps at each question otherwise. COUNT counts from DTSTART, so such a rule stays as it is
    (the API refuses one too long to walk)."""
    moved = rruleset()
    for rule in rules._rrule:
        moved.rrule(_started_before(rule, cursor))
    for rule in rules._exrule:
        moved.exrule(_started_before(rule, cursor))
    for when in rules._rdate:
        moved.rdate(when)
    for when in rules._exdate:
        moved.exdate(when)
    return moved


def _started_before(rule: rrule, cursor: datetime) -> rrule:
    unit = _PERIODS.get(rule._freq)
    if unit is None or rule._count is not None:
        return rule
    period = unit * rule._interval
    start: datetime = rule._dtstart
    # Two periods of margin: the difference of aware times in different zone objects is real
    # time, one daylight-saving hour away from the wall-clock grid the rule steps on.
    near = cursor.astimezone(start.tzinfo) if start.tzinfo is not None else cursor
    periods = (near - start) // period - 2
    if periods <= 0:
        return rule
    moved: rrule = rule.replace(dtstart=start + periods * period)
    return moved
