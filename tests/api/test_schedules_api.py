"""Schedules over the real HTTP API, the scheduler against that server's database, the
`headrace deployment schedule` CLI as a real process, and the run wait endpoint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from headrace_service.db import Database, create_engine
from headrace_service.loops import scheduler

DAILY = {"cron": "0 6 * * *", "timezone": "Europe/Paris"}


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The tests run the scheduler themselves; the server's own loop only runs at start.
    return {"scheduler_interval_seconds": 3600}


def scheduler_pass(database_url: str) -> scheduler.PassResult:
    async def main() -> scheduler.PassResult:
        db = Database(create_engine(database_url, pool_size=2, pool_timeout=10))
        try:
            return await scheduler.run_once(db, datetime.now(UTC))
        finally:
            await db.dispose()

    return asyncio.run(main())


def upcoming(http: httpx.Client, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    runs = http.get(
        "/flow_runs", params={"deployment_id": deployment["id"], "state_type": "SCHEDULED"}
    )
    assert runs.status_code == 200, runs.text
    items: list[dict[str, Any]] = runs.json()["items"]
    return items


def test_deploy_with_schedules_then_add_pause_resume_delete(
    http: httpx.Client, queue_api: Any, database_url: str
) -> None:
    queue_api.pool("nightly")
    deployment = queue_api.deploy(
        pool="nightly",
        parameters={"day": "today"},
        schedules=[{"schedule": DAILY, "parameters": {"day": "scheduled"}}],
    )
    schedules = http.get(f"/deployments/{deployment['id']}/schedules").json()
    assert [s["schedule"] for s in schedules] == [DAILY]
    assert scheduler_pass(database_url).created == 3
    runs = upcoming(http, deployment)
    assert len(runs) == 3
    assert all(r["auto_scheduled"] and r["schedule_id"] == schedules[0]["id"] for r in runs)
    assert {r["parameters"]["day"] for r in runs} == {"scheduled"}

    added = http.post(
        f"/deployments/{deployment['id']}/schedules",
        json={"schedule": {"interval": 7200}, "active": False},
    )
    assert added.status_code == 201, added.text
    assert added.json()["schedule"] == {"interval": 7200.0, "anchor_date": None, "timezone": "UTC"}
    assert scheduler_pass(database_url).created == 0  # created paused

    sid = schedules[0]["id"]
    paused = http.patch(f"/deployment_schedules/{sid}", json={"active": False})
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert upcoming(http, deployment) == []
    resumed = http.patch(f"/deployment_schedules/{sid}", json={"active": True})
    assert resumed.json()["active"] is True
    assert scheduler_pass(database_url).created == 3

    changed = http.patch(f"/deployment_schedules/{sid}", json={"schedule": {"cron": "0 7 * * *"}})
    assert changed.json()["schedule"] == {"cron": "0 7 * * *", "timezone": "UTC"}
    assert upcoming(http, deployment) == []  # the 06:00 Paris runs are gone
    scheduler_pass(database_url)
    assert {r["expected_start_time"][11:16] for r in upcoming(http, deployment)} == {"07:00"}

    assert http.delete(f"/deployment_schedules/{sid}").status_code == 204
    assert upcoming(http, deployment) == []
    assert http.get(f"/deployment_schedules/{sid}").status_code == 404
    assert len(http.get(f"/deployments/{deployment['id']}/schedules").json()) == 1


def test_redeploying_keeps_identical_schedules_and_their_runs(
    http: httpx.Client, queue_api: Any, database_url: str
) -> None:
    queue_api.pool("nightly")
    deployment = queue_api.deploy(pool="nightly", schedules=[{"schedule": DAILY}])
    scheduler_pass(database_url)
    before = {r["id"] for r in upcoming(http, deployment)}
    queue_api.deploy(pool="nightly", schedules=[{"schedule": DAILY}])
    assert {r["id"] for r in upcoming(http, deployment)} == before
    queue_api.deploy(pool="nightly")  # no schedules given: they stay as they are
    assert {r["id"] for r in upcoming(http, deployment)} == before
    queue_api.deploy(pool="nightly", parameters={"day": "other"})  # new defaults: new runs
    assert upcoming(http, deployment) == []
    queue_api.deploy(pool="nightly", schedules=[])
    assert http.get(f"/deployments/{deployment['id']}/schedules").json() == []


def test_pausing_or_deleting_the_deployment_removes_its_upcoming_runs(
    http: httpx.Client, queue_api: Any, database_url: str
) -> None:
    queue_api.pool("nightly")
    deployment = queue_api.deploy(pool="nightly", schedules=[{"schedule": DAILY}])
    scheduler_pass(database_url)
    assert len(upcoming(http, deployment)) == 3
    http.patch(f"/deployments/{deployment['id']}", json={"paused": True})
    assert upcoming(http, deployment) == []
    assert scheduler_pass(database_url).created == 0
    http.patch(f"/deployments/{deployment['id']}", json={"paused": False})
    assert scheduler_pass(database_url).created == 3
    assert http.delete(f"/deployments/{deployment['id']}").status_code == 204
    runs = http.get("/flow_runs", params={"deployment_id": deployment["id"]}).json()["items"]
    assert runs == []  # upcoming auto-scheduled runs are deleted, not left as Cancelled


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"cron": "61 * * * *"}, "cron: invalid expression '61 * * * *'"),
        ({"cron": "0 6 * *"}, "expected 5 fields (minute hour day-of-month month day-of-week)"),
        ({"cron": "0 6 * * *", "timezone": "Europe/Pariss"}, "unknown time zone 'Europe/Pariss'"),
        ({"rrule": "FREQ=FORTNIGHTLY"}, "rrule: invalid rule 'FREQ=FORTNIGHTLY'"),
        ({"interval": 0}, "interval: expected a number of seconds above 0"),
        ({"every": "day"}, "exactly one of 'cron', 'interval' or 'rrule'"),
    ],
)
def test_invalid_schedules_are_422_naming_the_field_with_an_example(
    http: httpx.Client, queue_api: Any, schedule: dict[str, Any], expected: str
) -> None:
    queue_api.pool("nightly")
    deployment = queue_api.deploy(pool="nightly")
    answer = http.post(f"/deployments/{deployment['id']}/schedules", json={"schedule": schedule})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("body.schedule: ") and expected in detail
    assert "like" in detail or "e.g." in detail
    in_deploy = http.post(
        "/deployments",
        json={
            "flow_name": "etl",
            "name": "other",
            "entrypoint": "flows/etl.py:etl",
            "path": "/srv/code",
            "work_pool_name": "nightly",
            "schedules": [{"schedule": schedule}],
        },
    )
    assert in_deploy.status_code == 422 and expected in in_deploy.json()["detail"]
    assert in_deploy.json()["detail"].startswith("body.schedules.0.schedule: ")


def test_schedule_parameters_must_complete_the_required_ones(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("nightly")
    schema = {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]}
    deployment = queue_api.deploy(pool="nightly", parameter_schema=schema)
    path = f"/deployments/{deployment['id']}/schedules"
    missing = http.post(path, json={"schedule": DAILY})
    assert missing.status_code == 422 and "day" in missing.json()["detail"]
    given = http.post(path, json={"schedule": DAILY, "parameters": {"day": "monday"}})
    assert given.status_code == 201, given.text


def test_unknown_ids_are_404(http: httpx.Client) -> None:
    assert http.get("/deployments/not-a-uuid/schedules").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert http.get(f"/deployments/{missing}/schedules").status_code == 404
    assert http.patch(f"/deployment_schedules/{missing}", json={"active": False}).status_code == 404
    assert http.delete(f"/deployment_schedules/{missing}").status_code == 404


def cli(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_API_URL"] = api_url
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", "deployment", "schedule", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_schedule_cli_create_ls_pause_resume_delete(
    api_url: str, http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("nightly")
    deployment = queue_api.deploy(pool="nightly")
    made = cli(api_url, "create", "etl/daily", "--cron", "0 6 * * *", "--timezone", "Europe/Paris")
    assert made.returncode == 0, made.stderr
    assert "cron 0 6 * * * (Europe/Paris)" in made.stdout
    listing = cli(api_url, "ls", "etl/daily", "--json")
    assert listing.returncode == 0 and '"cron": "0 6 * * *"' in listing.stdout
    assert cli(api_url, "pause", "etl/daily").returncode == 0  # its only schedule
    (schedule,) = http.get(f"/deployments/{deployment['id']}/schedules").json()
    assert schedule["active"] is False
    assert cli(api_url, "resume", "etl/daily", schedule["id"][:8]).returncode == 0
    assert http.get(f"/deployment_schedules/{schedule['id']}").json()["active"] is True
    bad = cli(api_url, "create", "etl/daily", "--cron", "61 * * * *")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: body.schedule: cron: invalid expression '61 * * * *'")
    assert bad.stderr.count("\n") == 1
    both = cli(api_url, "create", "etl/daily", "--cron", "0 6 * * *", "--interval", "60")
    assert both.returncode == 2 and "give only one of cron, interval or rrule" in both.stderr
    zone = cli(api_url, "create", "etl/daily", "--interval", "60", "--timezone", "Nowhere/X")
    assert zone.returncode == 2
    assert zone.stderr.startswith("error: --timezone: unknown time zone 'Nowhere/X'")
    assert cli(api_url, "delete", "etl/daily").returncode == 0
    assert http.get(f"/deployments/{deployment['id']}/schedules").json() == []


def create_running_run(http: httpx.Client) -> dict[str, Any]:
    made = http.post("/flow_runs", json={"flow_name": "ci", "state": {"type": "RUNNING"}})
    assert made.status_code == 201, made.text
    run: dict[str, Any] = made.json()
    return run


def test_wait_returns_when_the_run_finishes(http: httpx.Client, api_url: str) -> None:
    run = create_running_run(http)

    def finish_soon() -> None:
        time.sleep(0.5)
        with httpx.Client(base_url=api_url) as other:
            other.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "COMPLETED"}})

    finisher = threading.Thread(target=finish_soon)
    finisher.start()
    started = time.monotonic()
    answer = http.get(f"/flow_runs/{run['id']}/wait", params={"timeout": 60}, timeout=90)
    elapsed = time.monotonic() - started
    finisher.join()
    assert answer.status_code == 200, answer.text
    assert answer.json()["state_type"] == "COMPLETED"
    assert elapsed < 30  # woken by the change, not by the 60 s timeout
    # A finished run answers at once.
    again = http.get(f"/flow_runs/{run['id']}/wait", params={"timeout": 60})
    assert again.json()["state_name"] == "Completed"


def test_wait_times_out_returning_the_unfinished_run(http: httpx.Client) -> None:
    run = create_running_run(http)
    started = time.monotonic()
    answer = http.get(f"/flow_runs/{run['id']}/wait", params={"timeout": 1})
    assert time.monotonic() - started >= 1
    assert answer.status_code == 200 and answer.json()["state_type"] == "RUNNING"


def test_wait_refuses_bad_input(http: httpx.Client) -> None:
    run = create_running_run(http)
    too_long = http.get(f"/flow_runs/{run['id']}/wait", params={"timeout": 301})
    assert too_long.status_code == 422 and "query.timeout" in too_long.json()["detail"]
    not_number = http.get(f"/flow_runs/{run['id']}/wait", params={"timeout": "soon"})
    assert not_number.status_code == 422
    missing = http.get("/flow_runs/00000000-0000-0000-0000-000000000000/wait")
    assert missing.status_code == 404
