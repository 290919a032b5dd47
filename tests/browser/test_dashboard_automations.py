"""The Automations pages in a real browser: the list, one automation's firings, pause/resume."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import Dashboard, screenshot
from .test_cross_site import attacker_site  # noqa: F401 (a fixture)


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
    made_hook = dashboard.ok(
        dashboard.api.post(
            "/webhooks",
            json={
                "name": "github",
                "template": '{"event": "gh", "resource": {"headrace.resource.id": "r"}}',
            },
        )
    )
    no_secret = httpx.post(
        str(dashboard.api.base_url).removesuffix("/api/").removesuffix("/api") + made_hook["path"],
        json={},
    )
    assert no_secret.status_code == 401
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
    hook = page.locator("tr[data-webhook='github']")
    expect(hook).to_contain_text(f"POST {made_hook['path']}")
    expect(hook.locator("td").nth(4)).to_have_text("1")  # the request without its secret
    screenshot(page, "automations")


HOOK_ATTACK = """<!doctype html><title>cute dogs</title><script>
(async () => {
  const body = JSON.stringify({id: 1, status: "paid"});
  // What any page may send without asking: a no-cors text/plain POST (no custom header).
  await fetch("%(url)s", {method: "POST", mode: "no-cors",
                          headers: {"Content-Type": "text/plain"}, body}).catch(() => null);
  // With the secret in its header: the browser must ask first (CORS preflight), and is told no.
  await fetch("%(url)s", {method: "POST", headers: {"X-Headrace-Webhook-Secret": "%(secret)s"},
                          body}).catch(() => null);
  document.title = "sent";
})();
</script>"""


def test_a_page_of_another_site_cannot_call_a_webhook(
    page: Any, dashboard: Dashboard, request: pytest.FixtureRequest
) -> None:
    made = dashboard.ok(
        dashboard.api.post(
            "/webhooks",
            json={
                "name": "orders",
                "template": '{"event": "shop.order", "resource": {"headrace.resource.id": "o"}}',
            },
        )
    )
    url = str(dashboard.api.base_url).rstrip("/").removesuffix("/api") + made["path"]
    origin, site = request.getfixturevalue("attacker_site")
    (site / "dogs.html").write_text(HOOK_ATTACK % {"url": url, "secret": made["secret"]})
    page.goto(f"{origin}/dogs.html")
    page.wait_for_function("document.title === 'sent'")
    assert dashboard.ok(dashboard.api.get("/event_feed", params={"name": "shop."}))["items"] == []
    shown = dashboard.ok(dashboard.api.get("/webhooks/orders"))
    assert shown["received"] == 0
    # The same request from a program (no Origin) with the secret is accepted.
    sent = httpx.post(url, json={}, headers={"X-Headrace-Webhook-Secret": made["secret"]})
    assert sent.status_code == 202, sent.text
