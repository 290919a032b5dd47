"""The Automations pages in a real browser: the list, one automation's firings, pause/resume."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from .conftest import Dashboard, screenshot


def test_automations_list_detail_firings_and_pause(page: Any, dashboard: Dashboard) -> None:
    made = dashboard.ok(
        dashboard.api.post(
            "/automations",
            json={
                "name": "page-on-failure",
                "trigger": {"expect": ["demo.job.failed"], "match": {"team": "data*"}},
                "actions": [
                    {"type": "call-webhook", "url": "http://127.0.0.1:9/hook", "retries": 0}
                ],
            },
        )
    )
    body = {
        "events": [
            {
                "event": "demo.job.failed",
                "resource": {"headrace.resource.id": "job.7", "team": "data-eng"},
            }
        ]
    }
    dashboard.ok(dashboard.api.post("/event_feed", json=body))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fired = dashboard.ok(dashboard.api.get("/automations/page-on-failure/firings"))
        if fired and fired[0]["actions"][0]["status"] == "failed":
            break
        time.sleep(0.1)

    page.goto(dashboard.url + "/")
    page.get_by_role("link", name="Automations").click()
    row = page.locator("tr[data-automation='page-on-failure']")
    expect(row).to_contain_text("demo.job.failed")
    expect(row).to_contain_text("call-webhook")
    expect(row).to_contain_text("Enabled")

    row.get_by_role("link", name="page-on-failure").click()
    expect(page).to_have_url(f"{dashboard.url}/automations/{made['id']}")
    firing = page.locator("table.firings tbody tr")
    expect(firing).to_have_count(1)
    expect(firing).to_contain_text("demo.job.failed")
    expect(firing).to_contain_text("job.7")
    # The receiver is a closed port: the action failed, and the page says why.
    expect(firing).to_contain_text("failed")
    expect(firing).to_contain_text("ConnectError")
    screenshot(page, "automation")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("h1")).to_contain_text("Paused")
    assert dashboard.ok(dashboard.api.get(f"/automations/{made['id']}"))["enabled"] is False
    page.get_by_role("link", name="Automations").first.click()
    expect(page.locator("tr[data-automation='page-on-failure']")).to_contain_text("Paused")
    page.get_by_role("button", name="Resume automation page-on-failure").click()
    expect(page.locator("tr[data-automation='page-on-failure']")).to_contain_text("Enabled")
    screenshot(page, "automations")
