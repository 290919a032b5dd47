"""The Events page in a real browser: filtered by name prefix, and live."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import Dashboard, screenshot


def _emit(dashboard: Dashboard, name: str, resource: str, **payload: Any) -> None:
    body = {
        "events": [
            {"event": name, "resource": {"headrace.resource.id": resource}, "payload": payload}
        ]
    }
    dashboard.ok(dashboard.api.post("/event_feed", json=body))


def test_events_page_filters_by_name_and_shows_new_events_live(
    page: Any, dashboard: Dashboard
) -> None:
    _emit(dashboard, "demo.table.refreshed", "warehouse.orders", rows=12)
    _emit(dashboard, "other.thing", "elsewhere")
    page.goto(dashboard.url + "/")
    page.get_by_role("link", name="Events").click()
    expect(page.locator("#event-rows tr")).to_have_count(2)

    page.get_by_label("Event name starts with").fill("demo.")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#event-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("demo.table.refreshed")
    expect(rows.first).to_contain_text("warehouse.orders")
    expect(page.locator("#live")).to_have_text("live")

    # Stored after the page was rendered: shown on top without a reload, if it matches.
    _emit(dashboard, "other.later", "elsewhere")
    _emit(dashboard, "demo.job.finished", "job.7", seconds=3)
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("demo.job.finished")
    expect(rows.first).to_contain_text('{"seconds":3}')
    expect(page.locator("#event-rows")).not_to_contain_text("other.")
    screenshot(page, "events")


def test_run_page_lists_the_runs_events(page: Any, dashboard: Dashboard) -> None:
    run = dashboard.start_run("evented")
    rid = f"headrace.flow-run.{run['id']}"
    body = {
        "events": [
            {
                "event": "demo.step.done",
                "resource": {"headrace.resource.id": "step.1"},
                "related": [{"headrace.resource.id": rid, "headrace.resource.role": "flow-run"}],
            }
        ]
    }
    dashboard.ok(dashboard.api.post("/event_feed", json=body))
    dashboard.set_state(run["id"], "RUNNING")
    page.goto(f"{dashboard.url}/runs/{run['id']}")
    events = page.locator("section[aria-labelledby=events-h] li")
    # The relay turns state changes into events within about half a second; the page re-renders
    # its live part when the run changes.
    dashboard.set_state(run["id"], "COMPLETED")
    expect(events.filter(has_text="headrace.flow-run.Completed")).to_have_count(1)
    expect(events.filter(has_text="demo.step.done")).to_contain_text("step.1")
    expect(events.filter(has_text="headrace.flow-run.Running")).to_have_count(1)
