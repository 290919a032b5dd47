"""Schedules from the options a user types (`--cron ... --timezone ...`) or passes to
`flow.deploy(cron=..., interval=..., rrule=...)`.

`schedule_from_options` checks what it can without the server (one kind only, the field count
of a cron expression, the time zone, a positive interval); the server checks the rest and
answers a 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from headrace.schemas.schedules import (
    CRON_EXAMPLE,
    TIMEZONE_EXAMPLE,
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
)

__all__ = ["InvalidScheduleOptions", "schedule_from_options"]

_SCHEDULE: TypeAdapter[CronSchedule | IntervalSchedule | RRuleSchedule] = TypeAdapter(Schedule)


class InvalidScheduleOptions(ValueError):
    """Schedule options that do not make one valid schedule; the message names the option."""


def schedule_from_options(
    cron: str | None = None,
    interval: float | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    anchor_date: datetime | None = None,
) -> CronSchedule | IntervalSchedule | RRuleSchedule | None:
    """The schedule the options describe; None when none of cron, interval, rrule is given.

    Raises InvalidScheduleOptions with a one-line message that starts with the option's name
    (`cron: invalid expression ...`), so a CLI can print it as `--cron: ...`.
    """
    given: dict[str, Any] = {
        kind: value
        for kind, value in (("cron", cron), ("interval", interval), ("rrule", rrule))
        if value is not None
    }
    if not given:
        if timezone is not None or anchor_date is not None:
            raise InvalidScheduleOptions(
                f"timezone: give it with cron, interval or rrule, e.g. cron {CRON_EXAMPLE!r} "
                f"timezone {TIMEZONE_EXAMPLE!r}"
            )
        return None
    if len(given) > 1:
        raise InvalidScheduleOptions(
            f"{'/'.join(given)}: give only one of cron, interval or rrule per schedule, e.g. "
            f"cron {CRON_EXAMPLE!r}"
        )
    if anchor_date is not None and interval is None:
        raise InvalidScheduleOptions("anchor_date: only an interval schedule has an anchor date")
    data = {**given, "timezone": timezone or "UTC"}
    if anchor_date is not None:
        data["anchor_date"] = anchor_date
    try:
        return _SCHEDULE.validate_python(data)
    except ValidationError as exc:
        raise InvalidScheduleOptions(
            "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
        ) from None
