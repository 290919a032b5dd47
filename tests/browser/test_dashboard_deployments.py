"""Deployments, work pools, limits and the overview in a real browser; cancel from a run page."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Dashboard, screenshot

pytestmark = pytest.mark.browser

SCHEMA = {
    "type": "object",
    "properties": {
        "day": {"type": "string", "format": "date", "description": "The day to load"},
        "limit": {"type": "integer", "minimum": 1, "default": 10},
        "mode": {"enum": ["fast", "full"]},
        "dry_run": {"type": "boolean", "default": False},
        "tables": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["day", "mode"],
}


def make_deployment(dashboard: Dashboard) -> dict[str, Any]:
    dashboard.ok(dashboard.api.post("/work_pools", json={"name": "nightly", "type": "process"}))
    deployment: dict[str, Any] = dashboard.ok(
        dashboard.api.post(
            "/deployments",
            json={
                "flow_name": "etl",
                "name": "daily",
                "entrypoint": "flows.py:etl",
                "path": "/srv/flows",
                "work_pool_name": "nightly",
                "parameters": {"day": "2026-11-24"},
                "parameter_schema": SCHEMA,
                "tags": ["etl"],
            },
        )
    )
    return deployment


def test_run_form_rejects_bad_parameters_inline_then_runs_and_cancels(
    page: Any, dashboard: Dashboard
) -> None:
    deployment = make_deployment(dashboard)
    page.goto(f"{dashboard.url}/deployments/{deployment['id']}")
    expect(page.locator("#param-day")).to_have_value("2026-11-24")  # the default, filled in
    expect(page.locator("#param-limit")).to_have_value("10")

    page.fill("#param-tables", "[not json")  # caught in the browser
    page.click("#run-form button[type=submit]")
    expect(page.locator("#param-tables-error")).to_contain_text("not valid JSON")
    expect(page.locator("#param-mode-error")).to_have_text("required")

    page.select_option("#param-mode", "full")
    page.fill("#param-tables", '["orders"]')
    page.fill("#param-limit", "0")  # valid for the input, refused by the server's schema
    page.click("#run-form button[type=submit]")
    expect(page.locator("#param-limit-error")).to_contain_text("minimum of 1")
    expect(page.locator("#param-limit")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "deployment")
    assert dashboard.api.get("/flow_runs").json()["items"] == []  # nothing was started

    page.fill("#param-limit", "5")
    page.click("#run-form button[type=submit]")
    page.wait_for_url("**/runs/*")
    expect(page.locator("h1 .state")).to_have_text("Scheduled")
    run = dashboard.api.get("/flow_runs").json()["items"][0]
    assert run["parameters"] == {
        "day": "2026-11-24",
        "limit": 5,
        "mode": "full",
        "dry_run": False,
        "tables": ["orders"],
    }

    # The page's script wires the buttons up: a click before it has run does nothing.
    expect(page.locator("#live")).to_have_text("live")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=cancel]")
    expect(page.locator("h1 .state")).to_have_text("Cancelled")
    assert dashboard.api.get(f"/flow_runs/{run['id']}").json()["state_type"] == "CANCELLED"


def test_deployment_pause_and_summary_pages(page: Any, dashboard: Dashboard) -> None:
    deployment = make_deployment(dashboard)
    dashboard.ok(dashboard.api.post("/concurrency_limits", json={"tag": "db", "limit": 3}))
    failed = dashboard.start_run("etl", tags=["db"])
    dashboard.set_state(failed["id"], "FAILED", "KeyError: 'customer_id' missing in row 17")
    done = dashboard.start_run("report")
    dashboard.set_state(done["id"], "COMPLETED")
    dashboard.start_run("report")

    page.goto(f"{dashboard.url}/deployments/{deployment['id']}")
    page.click("button[data-action=toggle-pause]")
    expect(page.locator("h1 .state")).to_have_text("Paused")
    assert dashboard.api.get(f"/deployments/{deployment['id']}").json()["paused"] is True

    page.goto(dashboard.url + "/deployments")
    expect(page.locator("tr[data-deployment-id]")).to_contain_text("etl/daily")
    screenshot(page, "deployments")

    page.goto(dashboard.url + "/work-pools")
    expect(page.locator("#pool-nightly")).to_contain_text("default")
    page.click("#pool-nightly .card-head button[data-pool-action=pause]")
    expect(page.locator("#pool-nightly h2")).to_contain_text("Paused")
    screenshot(page, "work-pools")

    page.goto(dashboard.url + "/concurrency")
    expect(page.locator("tr[data-tag=db]")).to_contain_text("3")
    screenshot(page, "concurrency")

    page.goto(dashboard.url + "/")
    expect(page.locator("#overview-chart rect")).to_have_count(3)  # one bar, three states
    expect(page.locator(".failure-message")).to_contain_text("customer_id")
    expect(page.locator("#workers-h + ul")).to_contain_text("nightly")
    late = dashboard.start_run("report")  # a new run while the overview is open
    dashboard.set_state(late["id"], "COMPLETED")
    expect(page.locator(".legend")).to_contain_text("Completed 2")
    screenshot(page, "overview")


def waiting_runs(dashboard: Dashboard, deployment_id: str) -> list[dict[str, Any]]:
    query = {"deployment_id": deployment_id, "state_type": "SCHEDULED", "limit": 500}
    runs: list[dict[str, Any]] = dashboard.ok(dashboard.api.get("/flow_runs", params=query))[
        "items"
    ]
    return runs


def test_each_schedule_shows_its_next_runs_and_pauses_and_resumes(
    page: Any, dashboard: Dashboard
) -> None:
    deployment = make_deployment(dashboard)
    did = deployment["id"]
    hourly = dashboard.ok(
        dashboard.api.post(
            f"/deployments/{did}/schedules",
            json={"schedule": {"interval": 3600}, "parameters": {"mode": "fast"}},
        )
    )
    daily = dashboard.ok(
        dashboard.api.post(
            f"/deployments/{did}/schedules",
            json={
                "schedule": {"cron": "0 6 * * *"},
                "parameters": {"mode": "full"},
                "active": False,
            },
        )
    )
    deadline = time.monotonic() + 30  # the scheduler's first pass makes the hourly runs
    while not (runs := waiting_runs(dashboard, did)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runs, "the scheduler made no runs of the active schedule"

    page.goto(f"{dashboard.url}/deployments/{did}")
    hourly_item = page.locator(f"#schedule-{hourly['id']}")
    daily_item = page.locator(f"#schedule-{daily['id']}")
    expect(hourly_item).to_contain_text("every 3600")
    expect(hourly_item.locator(".next-runs li").first).to_be_visible()
    soonest = min(runs, key=lambda r: str(r["expected_start_time"]))
    expect(hourly_item.locator(".next-runs")).to_contain_text(soonest["name"])
    expect(daily_item).to_contain_text("Paused: no runs are made")
    screenshot(page, "deployment-schedules")

    daily_item.get_by_role("button", name="Resume schedule cron 0 6 * * *").click()
    expect(daily_item.locator(".state")).to_have_text("active")
    assert dashboard.api.get(f"/deployment_schedules/{daily['id']}").json()["active"] is True

    hourly_item.get_by_role("button", name="Pause schedule every 3600 s").click()
    expect(hourly_item.locator(".state")).to_have_text("paused")
    expect(hourly_item).to_contain_text("Paused: no runs are made")
    assert dashboard.api.get(f"/deployment_schedules/{hourly['id']}").json()["active"] is False
    # Pausing removed the hourly schedule's waiting runs.
    assert all(r["schedule_id"] != hourly["id"] for r in waiting_runs(dashboard, did))

    # A paused deployment makes no runs: its active schedules say when they would fire.
    page.click("button[data-action=toggle-pause]")
    expect(page.locator("h1 .state")).to_have_text("Paused")
    expect(page.locator("#sched-h + p")).to_contain_text("deployment is paused")
    expect(daily_item).to_contain_text("Fires next at")
    expect(daily_item.locator("time")).to_have_count(3)
    page.click("button[data-action=toggle-pause]")
    expect(page.locator("h1 .state")).to_have_text("Active")


def test_retry_from_failure_button_sends_the_failed_run_back_to_scheduled(
    page: Any, dashboard: Dashboard
) -> None:
    deployment = make_deployment(dashboard)
    run = dashboard.ok(
        dashboard.api.post(
            f"/deployments/{deployment['id']}/runs", json={"parameters": {"mode": "fast"}}
        )
    )
    dashboard.set_state(run["id"], "FAILED", "FileNotFoundError: needed.txt")
    # A task run its earlier attempt did not run again, as the engine reports it.
    now = datetime.now(UTC).isoformat()
    reused = {
        "id": str(uuid.uuid4()),
        "flow_run_id": run["id"],
        "name": "step-0",
        "task_key": "flows.step",
        "dynamic_key": "0",
        "states": [
            {
                "id": str(uuid.uuid4()),
                "type": "COMPLETED",
                "name": "Reused",
                "message": "reused from attempt 1",
                "timestamp": now,
            }
        ],
    }
    dashboard.report_tasks(run["id"], [reused])
    page.goto(f"{dashboard.url}/runs/{run['id']}")
    expect(page.locator("#run-live")).to_contain_text("reused from attempt 1")

    page.get_by_role("button", name="Retry from failure").click()
    expect(page.locator(".run-head h1")).to_contain_text("AwaitingRetry")
    # The same run is waiting for a worker again, told to resume from failure.
    detail = dashboard.api.get(f"/flow_runs/{run['id']}").json()
    assert detail["state_type"] == "SCHEDULED"
    assert detail["states"][-1]["data"] == {"from_failure": True}
    # No longer failed: the button is gone.
    expect(page.get_by_role("button", name="Retry from failure")).to_have_count(0)
