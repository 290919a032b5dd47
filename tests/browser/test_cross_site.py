"""A page of another site, open in the developer's browser, attacks the local server (issue 20).

The server runs as `headrace server start` does by default: loopback, no auth. The attacking
page is served by a second HTTP server on another port, as any site on the web would serve it,
and sends what a browser lets any page send without asking: `no-cors` fetches with JSON
disguised as text/plain. A second browser, whose resolver maps a foreign name to 127.0.0.1,
plays DNS rebinding: the attacker's script then runs in an origin that points at the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from headrace.schemas.api_keys import Scope
from tests.api.test_auth import make_key

from .conftest import CHROMIUM, CHROMIUM_ARGS, Dashboard

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><title>cute cats</title><script>
const api = "%(api)s";
async function send(path, body) {
  await fetch(api + path, {
    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
    body: JSON.stringify(body),
  }).catch(() => null);
}
(async () => {
  await send("/deployments", {flow_name: "owned", name: "d", entrypoint: "os:system",
                              path: "/tmp", work_pool_name: "default"});
  await send("/deployments/name/owned/d/runs", {parameters: {command: "touch %(marker)s"}});
  await send("/flow_runs", {flow_name: "owned"});
  document.title = "sent";
})();
</script>"""


@pytest.fixture
def attacker_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another origin: a plain HTTP server on its own port, serving the folder it returns."""
    site = tmp_path / "site"
    site.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


def nothing_was_created(dashboard: Dashboard, marker: Path) -> None:
    assert dashboard.api.get("/deployments").json() == []
    assert dashboard.api.get("/flow_runs").json()["items"] == []
    assert not marker.exists()


def test_a_page_of_another_site_cannot_create_or_run_anything(
    page: Any, dashboard: Dashboard, attacker_site: tuple[str, Path], tmp_path: Path
) -> None:
    dashboard.ok(dashboard.api.post("/work_pools", json={"name": "default", "type": "process"}))
    origin, site = attacker_site
    marker = tmp_path / "owned"
    api = str(dashboard.api.base_url).rstrip("/")
    (site / "cats.html").write_text(ATTACK % {"api": api, "marker": marker})
    page.goto(f"{origin}/cats.html")
    page.wait_for_function("document.title === 'sent'")
    nothing_was_created(dashboard, marker)


def test_dns_rebinding_gets_no_answer(chromium: Any, dashboard: Dashboard, tmp_path: Path) -> None:
    port = dashboard.api.base_url.port
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1"],
    )
    try:
        tab = browser.new_page()
        # The attacker's name now points at the server: its page loads from the server itself.
        loaded = tab.goto(f"http://rebind.evil.example:{port}/runs")
        assert loaded is not None and loaded.status == 421
        assert "HEADRACE_ALLOWED_HOSTS" in tab.content()
        # Same origin as far as the browser knows: a plain JSON fetch, readable if answered.
        answers = tab.evaluate(
            """async () => {
              const runs = await fetch("/api/flow_runs");
              const made = await fetch("/api/flow_runs", {method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({flow_name: "owned"})});
              return [runs.status, made.status];
            }"""
        )
        assert answers == [421, 421]
    finally:
        browser.close()
    nothing_was_created(dashboard, tmp_path / "owned")


@pytest.mark.parametrize("server_settings_overrides", [{"auth_enabled": True}])
def test_the_dashboard_logs_in_and_cancels_from_its_own_pages(
    page: Any, live_server: Any, dashboard: Dashboard
) -> None:
    # With auth on, the login form posts a form and the Cancel button sends JSON with the
    # cookie: both from the server's own origin, so the guard lets them through.
    # In a thread of its own: Playwright's event loop runs in this one.
    with ThreadPoolExecutor(1) as pool:
        admin = pool.submit(make_key, live_server.database_url, Scope.ADMIN).result()
    dashboard.api.headers["Authorization"] = f"Bearer {admin}"
    run = dashboard.start_run("nightly")
    page.goto(f"{dashboard.url}/runs/{run['id']}")
    page.fill("#key", admin)
    page.click("button[type=submit]")
    expect(page.locator("h1 .state")).to_have_text("Running")
    # The page's script wires the buttons up: a click before it has run does nothing.
    expect(page.locator("#live")).to_have_text("live")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=cancel]")
    expect(page.locator("h1 .state")).to_have_text("Cancelling")
    assert dashboard.api.get(f"/flow_runs/{run['id']}").json()["state_type"] == "CANCELLING"
