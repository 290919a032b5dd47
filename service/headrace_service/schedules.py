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
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from dateutil.rrule import rrulestr

from headrace.schemas.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    cron_error,
    rrule_error,
)
from headrace_service.errors import InvalidInput

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


def check_schedule(schedule: AnySchedule, where: str) -> Timetable:
    """`timetable` for the API: a rejected schedule is a 422 naming `where` and the field."""
    try:
        return timetable(schedule)
    except InvalidSchedule as exc:
        raise InvalidInput(f"{where}: {exc}") from None


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
            self.rule = rrulestr(expression, dtstart=DEFAULT_ANCHOR, forceset=True)
            self.aware = _rule_is_aware(self.rule)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidSchedule(rrule_error(expression, str(exc) or type(exc).__name__)) from None

    def times_after(self, after: datetime) -> Iterator[datetime]:
        cursor: datetime = after.astimezone(self.zone)
        if not self.aware:
            cursor = cursor.replace(tzinfo=None)
        while True:
            local = self.rule.after(cursor)
            if local is None:
                return
            cursor = local
            when = local if self.aware else local.replace(tzinfo=self.zone)
            if when > after:
                yield when.astimezone(UTC)


def _rule_is_aware(rule: Any) -> bool:
    """A DTSTART with TZID or Z makes the rule's times aware; else they are wall-clock times."""
    try:
        rule.after(DEFAULT_ANCHOR)
    except TypeError:
        return True
    return False
