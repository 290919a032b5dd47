"""Schedules that used to stall the API or stop the scheduler (issue 20, items 2 and 3): every
schedule computation is bounded in time and off the event loop, the API refuses what cannot be
computed, and a stored schedule that fails is marked while the others keep getting runs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from tests.api.test_schedules_api import scheduler_pass, upcoming

# dateutil walks every minute since DTSTART (2020-01-01 when the rule names none) to answer
# "what comes after now": millions of steps, unless the walk starts near now.
MINUTELY_SINCE_2020 = {"rrule": "FREQ=MINUTELY", "timezone": "UTC"}
# Never fires: dateutil scans every minute up to the year 9999 to find that out.
NEVER_FIRES_SLOWLY = {"rrule": "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30", "timezone": "UTC"}
# Its first time is in the year 10000 in UTC.
ANCHOR_PAST_9999 = {
    "interval": 60,
    "anchor_date": "9999-12-31T23:59:59",
    "timezone": "Etc/GMT+12",
}


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The tests run the scheduler themselves; the server's own loop only runs at start.
    return {"scheduler_interval_seconds": 3600}


def add_schedule(http: httpx.Client, deployment: dict[str, Any], schedule: Any) -> httpx.Response:
    return http.post(f"/deployments/{deployment['id']}/schedules", json={"schedule": schedule})


def test_a_minutely_rrule_without_dtstart_is_computed_at_once(
    http: httpx.Client, queue_api: Any, database_url: str
) -> None:
    queue_api.pool()
    deployment = queue_api.deploy()
    started = time.monotonic()
    added = add_schedule(http, deployment, MINUTELY_SINCE_2020)
    assert added.status_code == 201, added.text
    result = scheduler_pass(database_url)
    assert time.monotonic() - started < 5
    assert result.created >= 3
    starts = [run["expected_start_time"] for run in upcoming(http, deployment)]
    assert starts and len(starts) <= result.created
    assert all(start.endswith(":00Z") or start.endswith(":00+00:00") for start in starts)


@pytest.mark.parametrize(
    ("schedule", "field", "says"),
    [
        (NEVER_FIRES_SLOWLY, "rrule", "to compute"),
        ({"rrule": "FREQ=DAILY;COUNT=3", "timezone": "UTC"}, "rrule", "never fires"),
        ({"rrule": "FREQ=DAILY;UNTIL=20210101T000000", "timezone": "UTC"}, "rrule", "never"),
        (ANCHOR_PAST_9999, "anchor_date", "cannot be computed"),
    ],
)
def test_a_schedule_that_cannot_be_computed_is_refused_naming_its_field(
    http: httpx.Client, queue_api: Any, schedule: dict[str, Any], field: str, says: str
) -> None:
    queue_api.pool()
    deployment = queue_api.deploy()
    started = time.monotonic()
    refused = add_schedule(http, deployment, schedule)
    assert time.monotonic() - started < 5
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"body.schedule: {field}: ") and says in detail, detail
    # A deployment carrying it is refused the same way, and nothing is stored.
    again = http.post(
        "/deployments",
        json={
            "flow_name": "etl",
            "name": "daily",
            "entrypoint": "flows/etl.py:etl",
            "path": "/srv/code",
            "work_pool_name": "pool",
            "schedules": [{"schedule": schedule}],
        },
    )
    assert again.status_code == 422 and f"body.schedules.0.schedule: {field}: " in again.text
    assert http.get(f"/deployments/{deployment['id']}/schedules").json() == []


def test_the_api_answers_while_a_costly_schedule_is_checked(
    http: httpx.Client, queue_api: Any, api_url: str
) -> None:
    queue_api.pool()
    deployment = queue_api.deploy()
    answers: list[int] = []

    def add_costly() -> None:
        with httpx.Client(base_url=api_url, timeout=30) as other:
            answers.append(add_schedule(other, deployment, NEVER_FIRES_SLOWLY).status_code)

    adding = threading.Thread(target=add_costly)
    adding.start()
    slowest = 0.0
    while adding.is_alive():
        started = time.monotonic()
        assert http.get("/health").status_code == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)
    adding.join()
    assert answers == [422]
    assert slowest < 0.5, f"/api/health took {slowest:.2f}s while a schedule was checked"


def store_schedule_unchecked(sql: Any, schedule_id: str, schedule: dict[str, Any]) -> None:
    """What a server before these checks let in: written straight into the table."""
    sql.execute(
        "UPDATE deployment_schedule SET schedule = CAST(:s AS jsonb) WHERE id = :id",
        s=json.dumps(schedule),
        id=schedule_id,
    )


@pytest.mark.parametrize("bad", [ANCHOR_PAST_9999, NEVER_FIRES_SLOWLY], ids=["overflow", "slow"])
def test_a_stored_schedule_that_fails_is_marked_and_the_others_still_get_runs(
    http: httpx.Client, queue_api: Any, database_url: str, sql: Any, bad: dict[str, Any]
) -> None:
    queue_api.pool()
    broken = queue_api.deploy(name="broken")
    healthy = queue_api.deploy(name="healthy")
    bad_id = add_schedule(http, broken, {"interval": 3600}).json()["id"]
    store_schedule_unchecked(sql, bad_id, bad)
    assert add_schedule(http, healthy, {"cron": "*/5 * * * *"}).status_code == 201

    started = time.monotonic()
    result = scheduler_pass(database_url)
    assert time.monotonic() - started < 10
    assert result.created >= 3 and len(upcoming(http, healthy)) == result.created
    assert upcoming(http, broken) == []

    marked = http.get(f"/deployment_schedules/{bad_id}").json()
    assert marked["error"], marked
    page = httpx.get(api_url_root(http) + f"/deployments/{broken['id']}", timeout=30)
    assert page.status_code == 200 and "Errored" in page.text
    metrics = httpx.get(api_url_root(http) + "/metrics", timeout=30).text
    assert "headrace_scheduler_schedules_errored 1.0" in metrics

    # Changing the schedule clears the mark; the next pass makes its runs.
    fixed = http.patch(f"/deployment_schedules/{bad_id}", json={"schedule": {"interval": 3600}})
    assert fixed.status_code == 200 and fixed.json()["error"] is None
    assert scheduler_pass(database_url).created >= 1
    assert upcoming(http, broken)


def api_url_root(http: httpx.Client) -> str:
    return str(http.base_url).rstrip("/").removesuffix("/api")
