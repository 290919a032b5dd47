"""The flow-runs list and a flow run's page, in a real browser, updated live over SSE."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Dashboard, screenshot, task_report

pytestmark = pytest.mark.browser


def test_a_new_run_appears_live_and_reaches_completed(page: Any, dashboard: Dashboard) -> None:
    older = dashboard.start_run("nightly-etl", tags=["prod"])
    dashboard.set_state(older["id"], "FAILED", "ValueError: the input file was empty")
    page.goto(dashboard.url + "/runs")
    expect(page.locator("#live")).to_have_text("live")

    run = dashboard.start_run("etl", tags=["daily"])  # as a script's flow run does
    row = page.locator(f'tr[data-run-id="{run["id"]}"]')
    expect(row).to_contain_text("Running")
    dashboard.set_state(run["id"], "COMPLETED")
    expect(row).to_contain_text("Completed")
    expect(page.locator("#run-rows tr")).to_have_count(2)  # no reload: both runs, once each
    screenshot(page, "flow-runs")

    page.select_option("select[name=state]", "FAILED")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#run-rows tr")).to_have_count(1)
    expect(page.locator("#run-rows")).to_contain_text("nightly-etl")


def test_run_page_shows_task_bars_edges_and_a_live_log_tail(
    page: Any, dashboard: Dashboard
) -> None:
    run = dashboard.start_run("etl", parameters={"day": "2026-11-24", "limit": 10})
    rid = run["id"]
    t0 = datetime.now(UTC) - timedelta(seconds=5)
    extract = task_report(rid, "extract-0", t0, 1.2)
    transforms = [
        task_report(
            rid,
            f"transform-{i}",
            t0 + timedelta(seconds=1.3),
            1 + i * 0.5,
            upstream=[extract["id"]],
        )
        for i in range(3)
    ]
    transforms[2] = task_report(
        rid,
        "transform-2",
        t0 + timedelta(seconds=1.3),
        0.8,
        state="FAILED",
        upstream=[extract["id"]],
    )
    dashboard.report_tasks(rid, [extract, *transforms])
    dashboard.log(
        rid,
        (20, "starting etl for 2026-11-24"),
        (10, "connecting to the warehouse"),
        (40, "transform-2 failed: division by zero"),
    )

    page.goto(f"{dashboard.url}/runs/{rid}")
    expect(page.locator("svg.timeline g.bar")).to_have_count(4)
    expect(page.locator("svg.timeline path.edge")).to_have_count(3)
    expect(page.locator("svg.timeline g.bar-failed")).to_have_count(1)
    expect(page.locator("#logs li")).to_have_count(3)
    expect(page.locator(".json")).to_contain_text('"day": "2026-11-24"')

    # New lines and tasks arrive while the page is open (pushed over SSE, never polled): a log
    # batch fetches only the lines after the last one shown, a task batch re-renders the run.
    expect(page.locator("#live")).to_have_text("live")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    dashboard.log(rid, (20, "loaded 1200 rows"))
    expect(page.locator("#logs li")).to_have_count(4)
    expect(page.locator("#logs li").last).to_contain_text("loaded 1200 rows")
    log_reads = [u for u in asked if "/logs?" in u]
    assert log_reads and all("after=" in u for u in log_reads), asked
    load = task_report(
        rid, "load-0", t0 + timedelta(seconds=3), 1.5, upstream=[t["id"] for t in transforms[:2]]
    )
    dashboard.report_tasks(rid, [load])
    expect(page.locator("svg.timeline g.bar")).to_have_count(5)
    assert any("part=live" in u for u in asked)
    dashboard.set_state(rid, "COMPLETED")
    expect(page.locator("h1 .state")).to_have_text("Completed")
    expect(page.locator("button[data-action=cancel]")).to_have_count(0)
    screenshot(page, "flow-run")

    page.select_option("#log-level", "40")
    expect(page.locator("#logs li:visible")).to_have_count(1)
    page.select_option("#log-level", "0")
    page.fill("#log-search", "warehouse")
    expect(page.locator("#logs li:visible")).to_have_count(1)
    expect(page.locator("#logs li:visible")).to_contain_text("connecting to the warehouse")


def test_bad_filters_and_unknown_runs_get_a_clear_page(page: Any, dashboard: Dashboard) -> None:
    response = page.goto(dashboard.url + "/runs?state=SOMETIMES")
    assert response.status == 400
    expect(page.locator(".error-message")).to_contain_text("unknown SOMETIMES")
    response = page.goto(f"{dashboard.url}/runs/{uuid.uuid4()}")
    assert response.status == 404
