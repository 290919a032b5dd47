"""Schedules of a deployment: cron, interval or RRULE, each with an IANA time zone.

On the wire a schedule is one JSON object whose key says its kind:

    {"cron": "0 6 * * *", "timezone": "Europe/Paris"}
    {"interval": 3600, "anchor_date": "2026-01-01T00:00:00", "timezone": "UTC"}
    {"rrule": "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=6;BYMINUTE=0", "timezone": "UTC"}

The models check what can be checked without the server's calendar libraries (field count of a
cron expression, the time zone, a positive interval); the server compiles each schedule with
APScheduler or dateutil and answers 422 for expressions these reject. Every message names the
field and shows a valid example, so a user can fix the input from the message alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from headrace.schemas.common import Model, Parameters, ReadModel, StorableTime
from headrace.schemas.secrets import masked_parameters

DEFAULT_TIMEZONE = "UTC"
CRON_EXAMPLE = "0 6 * * *"
TIMEZONE_EXAMPLE = "Europe/Paris"
RRULE_EXAMPLE = "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=6;BYMINUTE=0"
# Long enough for any sensible rule; a bound so a client cannot store megabytes of RRULE text.
MAX_EXPRESSION = 1000
MAX_INTERVAL_SECONDS = 366 * 24 * 3600.0
MAX_SCHEDULES = 100


def cron_error(expression: str, why: str | None = None) -> str:
    because = f" ({why})" if why else ""
    return (
        f"cron: invalid expression {expression!r}{because} — expected 5 fields "
        f"(minute hour day-of-month month day-of-week) like {CRON_EXAMPLE!r}"
    )


def timezone_error(value: str) -> str:
    return (
        f"timezone: unknown time zone {value!r} — expected an IANA name like {TIMEZONE_EXAMPLE!r}"
    )


def interval_error(value: object) -> str:
    return (
        f"interval: expected a number of seconds above 0 and at most {MAX_INTERVAL_SECONDS:g} "
        f"(a year), like 3600, got {value!r}"
    )


def rrule_error(expression: str, why: str | None = None) -> str:
    because = f" ({why})" if why else ""
    return f"rrule: invalid rule {expression!r}{because} — expected an RRULE like {RRULE_EXAMPLE!r}"


def _invalid(message: str) -> PydanticCustomError:
    # The message goes in the context so braces in user input are never read as a template.
    return PydanticCustomError("schedule", "{message}", {"message": message})


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(timezone_error(value)) from None
    return value


Timezone = Annotated[str, Field(max_length=100, examples=[TIMEZONE_EXAMPLE])]


class CronSchedule(Model):
    """Runs at the times a 5-field cron expression names, read as wall-clock time in `timezone`.

    Daylight saving: a time that does not exist (spring forward) runs once, just after the gap;
    a time that happens twice (autumn) runs once, at its first occurrence.
    """

    cron: str = Field(max_length=MAX_EXPRESSION, examples=[CRON_EXAMPLE])
    timezone: Timezone = DEFAULT_TIMEZONE

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise _invalid(cron_error(value, f"{len(value.split())} fields"))
        return " ".join(value.split())

    _timezone = field_validator("timezone")(check_timezone)


class IntervalSchedule(Model):
    """Runs every `interval` seconds of elapsed time, counted from `anchor_date`.

    A naive `anchor_date` is read in `timezone`; none means 2020-01-01 00:00 there, so every
    server computes the same times. Elapsed time ignores daylight saving: use cron for "every
    day at 06:00 local time".
    """

    interval: float = Field(examples=[3600])
    anchor_date: StorableTime | None = None
    timezone: Timezone = DEFAULT_TIMEZONE

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not 0 < value <= MAX_INTERVAL_SECONDS:
            raise _invalid(interval_error(value))
        return value

    _timezone = field_validator("timezone")(check_timezone)


class RRuleSchedule(Model):
    """Runs at the times an iCalendar RRULE names (RFC 5545), read as wall-clock time in
    `timezone`. Without a DTSTART in the rule, it starts at 2020-01-01 00:00 in `timezone`."""

    rrule: str = Field(min_length=1, max_length=MAX_EXPRESSION, examples=[RRULE_EXAMPLE])
    timezone: Timezone = DEFAULT_TIMEZONE

    _timezone = field_validator("timezone")(check_timezone)


SCHEDULE_KINDS = ("cron", "interval", "rrule")
KIND_HELP = (
    "a schedule needs exactly one of 'cron', 'interval' or 'rrule', e.g. "
    f'{{"cron": "{CRON_EXAMPLE}", "timezone": "{TIMEZONE_EXAMPLE}"}}'
)


def _kind_of(value: Any) -> str | None:
    if isinstance(value, CronSchedule):
        return "cron"
    if isinstance(value, IntervalSchedule):
        return "interval"
    if isinstance(value, RRuleSchedule):
        return "rrule"
    if isinstance(value, dict):
        present = [kind for kind in SCHEDULE_KINDS if kind in value]
        return present[0] if len(present) == 1 else None
    return None


def _one_line_errors(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report `cron: ...` rather than pydantic's `cron.cron: ...` (the union's tag, then the
    field): the message names the field once, with its example."""
    if _kind_of(value) is None:
        raise _invalid(KIND_HELP)
    try:
        return handler(value)
    except ValidationError as exc:
        raise _invalid(
            "; ".join(_field_message(e) for e in exc.errors(include_url=False))
        ) from None


def _field_message(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in SCHEDULE_KINDS:
        loc = loc[1:]  # the union's tag, not a field
    field, message = ".".join(loc), str(error["msg"])
    if not field or message.startswith(f"{field}:"):
        return message
    return f"{field}: {message}"


Schedule = Annotated[
    Annotated[CronSchedule, Tag("cron")]
    | Annotated[IntervalSchedule, Tag("interval")]
    | Annotated[RRuleSchedule, Tag("rrule")],
    Discriminator(_kind_of),
    WrapValidator(_one_line_errors),
]


class DeploymentScheduleCreate(Model):
    schedule: Schedule
    # Merged over the deployment's default parameters for the runs of this schedule.
    parameters: Parameters = Field(default_factory=dict)
    active: bool = True


class DeploymentScheduleUpdate(Model):
    """PATCH: only the fields sent change. `active: false` pauses, `true` resumes."""

    schedule: Schedule | None = None
    parameters: Parameters | None = None
    active: bool | None = None


class DeploymentSchedule(ReadModel):
    # Masked with the deployment's `parameter_schema`, which the server passes beside the row.
    _mask_secrets = model_validator(mode="before")(masked_parameters)

    id: uuid.UUID
    deployment_id: uuid.UUID
    schedule: Schedule
    parameters: dict[str, Any] = Field(default_factory=dict)
    active: bool
    created: datetime
    updated: datetime
    # Set when the scheduler could not compute the schedule's times: it makes no runs of it
    # until the schedule is changed or a later pass computes it.
    error: str | None = None


def describe(schedule: CronSchedule | IntervalSchedule | RRuleSchedule) -> str:
    """One line for tables: `cron 0 6 * * * (Europe/Paris)`."""
    if isinstance(schedule, CronSchedule):
        what = f"cron {schedule.cron}"
    elif isinstance(schedule, IntervalSchedule):
        what = f"every {schedule.interval:g}s"
        if schedule.anchor_date is not None:
            what += f" from {schedule.anchor_date.isoformat()}"
    else:
        what = f"rrule {schedule.rrule}"
    return f"{what} ({schedule.timezone})"
