"""Fire times of cron, interval and RRULE schedules on fixed clocks, DST days included."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from pydantic import ValidationError

from headrace.schemas.schedules import (
    CronSchedule,
    DeploymentScheduleCreate,
    IntervalSchedule,
    RRuleSchedule,
)
from headrace_service.schedules import (
    DEFAULT_ANCHOR,
    InvalidSchedule,
    RRuleTimetable,
    crontab_weekdays,
    next_times,
    timetable,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_times(schedule: object, after: datetime, count: int) -> list[str]:
    return [t.astimezone(PARIS).isoformat() for t in next_times(schedule, after, count)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "schedule",
    [
        CronSchedule(cron="30 2 * * *", timezone="Europe/Paris"),
        RRuleSchedule(rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone="Europe/Paris"),
    ],
)
def test_daily_0230_in_paris_runs_once_on_the_spring_forward_day(schedule: object) -> None:
    # 2026-03-29: clocks jump from 02:00 to 03:00; 02:30 does not exist that day.
    times = local_times(schedule, paris(2026, 3, 28, 12), 3)
    assert times == [
        "2026-03-29T03:30:00+02:00",  # once, just after the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


@pytest.mark.parametrize(
    "schedule",
    [
        CronSchedule(cron="30 2 * * *", timezone="Europe/Paris"),
        RRuleSchedule(rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone="Europe/Paris"),
    ],
)
def test_daily_0230_in_paris_runs_once_on_the_autumn_repeat_day(schedule: object) -> None:
    # 2026-10-25: clocks go back from 03:00 to 02:00; 02:30 happens twice.
    times = local_times(schedule, paris(2026, 10, 24, 12), 3)
    assert times == [
        "2026-10-25T02:30:00+02:00",  # the first 02:30 only
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


def test_daily_cron_does_not_fire_again_when_asked_after_the_repeated_hour() -> None:
    schedule = CronSchedule(cron="30 2 * * *", timezone="Europe/Paris")
    # Just after the first 02:30 (00:30 UTC): the next is the following day, not the repeat.
    assert local_times(schedule, utc(2026, 10, 25, 0, 30), 1) == ["2026-10-26T02:30:00+01:00"]


def test_hourly_cron_runs_every_real_hour_across_both_changes() -> None:
    schedule = CronSchedule(cron="0 * * * *", timezone="Europe/Paris")
    autumn = next_times(schedule, utc(2026, 10, 24, 22, 30), 5)
    assert [t.isoformat() for t in autumn] == [
        f"2026-10-{d}T{h}:00:00+00:00"
        for d, h in [(24, 23), (25, "00"), (25, "01"), (25, "02"), (25, "03")]
    ]
    spring = next_times(schedule, utc(2026, 3, 28, 23, 30), 3)
    assert [t.isoformat() for t in spring] == [
        "2026-03-29T00:00:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-29T02:00:00+00:00",
    ]


def test_cron_reads_wall_clock_time_in_its_zone() -> None:
    schedule = CronSchedule(cron="0 6 * * *", timezone="America/New_York")
    winter, summer = (
        next_times(schedule, utc(2026, 1, 1), 1)[0],
        next_times(schedule, utc(2026, 7, 1), 1)[0],
    )
    assert winter == utc(2026, 1, 1, 11)
    assert summer == utc(2026, 7, 1, 10)


def test_cron_day_of_week_numbers_are_crontabs_sunday_zero() -> None:
    sundays = next_times(CronSchedule(cron="0 6 * * 0"), utc(2026, 1, 1), 2)
    assert [t.strftime("%a %d") for t in sundays] == ["Sun 04", "Sun 11"]
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("5-7") == "sun,fri,sat"
    assert crontab_weekdays("sat,SUN") == "sun,sat"


def test_cron_with_day_of_month_and_day_of_week_runs_on_either() -> None:
    # The 13th of the month or any Friday (vixie cron's rule).
    times = next_times(CronSchedule(cron="0 6 13 * 5"), utc(2026, 1, 1), 4)
    assert [t.day for t in times] == [2, 9, 13, 16]


def test_interval_counts_from_its_anchor_in_its_zone() -> None:
    schedule = IntervalSchedule(
        interval=3600, anchor_date=datetime(2026, 1, 1, 0, 15), timezone="Europe/Paris"
    )
    times = next_times(schedule, utc(2026, 1, 1, 5), 3)
    assert times == [utc(2026, 1, 1, 5, 15), utc(2026, 1, 1, 6, 15), utc(2026, 1, 1, 7, 15)]


def test_interval_without_anchor_is_the_same_on_every_server() -> None:
    schedule = IntervalSchedule(interval=7)
    after = utc(2026, 5, 5, 5, 5, 5)
    first = next_times(schedule, after, 3)
    assert first == next_times(schedule, after, 3)
    assert [(b - a).total_seconds() for a, b in pairwise(first)] == [7, 7]
    assert all(t > after for t in first)


def test_interval_is_elapsed_time_across_dst() -> None:
    schedule = IntervalSchedule(
        interval=86400, anchor_date=datetime(2026, 3, 28, 6, 0), timezone="Europe/Paris"
    )
    times = local_times(schedule, paris(2026, 3, 28, 7), 2)
    assert times == ["2026-03-29T07:00:00+02:00", "2026-03-30T07:00:00+02:00"]


def test_rrule_weekly_with_count_ends() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,FR;COUNT=3", timezone="UTC"
    )
    times = next_times(schedule, utc(2026, 1, 1), 10)
    assert times == [utc(2026, 1, 5, 9), utc(2026, 1, 9, 9), utc(2026, 1, 12, 9)]


def test_rrule_with_dtstart_tzid_uses_that_zone() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY"
    )
    assert next_times(schedule, utc(2026, 1, 1), 1) == [utc(2026, 1, 1, 14)]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (CronSchedule(cron="61 * * * *"), "cron: invalid expression '61 * * * *'"),
        (CronSchedule(cron="0 0 * * 8"), "day of week '8'"),
        (CronSchedule(cron="0 0 31 2 *"), "it never fires"),
        (RRuleSchedule(rrule="FREQ=SOMETIMES"), "rrule: invalid rule 'FREQ=SOMETIMES'"),
        (RRuleSchedule(rrule="garbage"), "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ],
)
def test_invalid_expressions_name_the_field_and_show_an_example(
    schedule: object, message: str
) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        timetable(schedule)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "like '" in str(caught.value)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"cron": "0 6 * *"}, "cron: invalid expression '0 6 * *' (4 fields) — expected 5 fields"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Base"}, "timezone: unknown time zone 'Mars/Base'"),
        ({"interval": 0}, "interval: expected a number of seconds above 0"),
        ({"interval": -5}, "like 3600"),
        ({"cron": "0 6 * * *", "interval": 5}, "exactly one of 'cron', 'interval' or 'rrule'"),
        ({"every": 5}, "exactly one of"),
        ({"rrule": "FREQ=DAILY", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_schedule_models_refuse_bad_input_in_one_line(
    schedule: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentScheduleCreate.model_validate({"schedule": schedule})
    (error,) = caught.value.errors(include_url=False)
    assert error["loc"] == ("schedule",)
    assert message in error["msg"]
    assert "\n" not in error["msg"]


def test_schedule_models_round_trip_through_json() -> None:
    body = DeploymentScheduleCreate.model_validate(
        {"schedule": {"cron": " 0  6 * * * ", "timezone": "Europe/Paris"}, "parameters": {"a": 1}}
    )
    assert isinstance(body.schedule, CronSchedule) and body.schedule.cron == "0 6 * * *"
    dumped = body.model_dump(mode="json", exclude_none=True)
    assert dumped["schedule"] == {"cron": "0 6 * * *", "timezone": "Europe/Paris"}
    assert DeploymentScheduleCreate.model_validate(dumped) == body


# Rules whose walk the timetable starts near the asked time, and some it must not move (COUNT,
# MONTHLY): each must give exactly what a walk from DTSTART gives.
WALKED_RULES = [
    "FREQ=MINUTELY",
    "FREQ=MINUTELY;INTERVAL=7",
    "FREQ=SECONDLY;INTERVAL=13;BYSECOND=0,30",
    "FREQ=HOURLY;INTERVAL=5;BYMINUTE=15,45",
    "FREQ=DAILY;INTERVAL=3;BYHOUR=2,14",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;BYHOUR=6",
    "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SA,SU,TU",
    "FREQ=DAILY;BYSETPOS=-1;BYHOUR=1,5,9",
    "FREQ=WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=2;INTERVAL=2",
    "DTSTART;TZID=Europe/Paris:20250310T023000\nRRULE:FREQ=DAILY;INTERVAL=2",
    "DTSTART:20240101T000000Z\nRRULE:FREQ=HOURLY;INTERVAL=7",
    "FREQ=HOURLY;UNTIL=20270101T000000",
    "DTSTART:20230105T101010\nRRULE:FREQ=MINUTELY;INTERVAL=17\n"
    "EXRULE:FREQ=HOURLY;INTERVAL=2;BYMINUTE=0,17,34,51",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=DAILY;COUNT=3000",
]


def walked_from_start(expression: str, zone: ZoneInfo, after: datetime, n: int) -> list[datetime]:
    """The first `n` times after `after`, by walking the rule from its DTSTART."""
    rules = rrulestr(expression, dtstart=DEFAULT_ANCHOR, forceset=True)
    aware = any(rule._dtstart.tzinfo for rule in rules._rrule)
    cursor = after.astimezone(zone)
    if not aware:
        cursor = cursor.replace(tzinfo=None)
    found: list[datetime] = []
    for local in rules:
        when = local if aware else local.replace(tzinfo=zone)
        if local > cursor and when > after:
            found.append(when.astimezone(UTC))
            if len(found) == n:
                break
    return found


@pytest.mark.parametrize("expression", WALKED_RULES)
def test_an_rrule_started_near_the_asked_time_gives_the_same_times(expression: str) -> None:
    # Fast rules are asked about days after 2020 (the walk from DTSTART is the slow reference);
    # slower ones years after.
    fast = expression.startswith(("FREQ=MINUTELY", "FREQ=SECONDLY"))
    picks = random.Random(expression)
    for zone_name in ("UTC", "Europe/Paris"):
        zone = ZoneInfo(zone_name)
        table = RRuleTimetable(expression, zone)
        for _ in range(2):
            span = 20 * 86400 if fast else 800 * 86400
            after = datetime(2020, 6, 1, tzinfo=UTC) + timedelta(seconds=picks.randrange(span))
            got = list(itertools.islice(table.times_after(after), 12))
            assert got == walked_from_start(expression, zone, after, 12), (zone_name, after)
