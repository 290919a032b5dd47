"""Artifacts and variables in a real browser: hostile markdown runs nothing, tables are tables,
a progress bar follows its artifact live, and variables are edited from their page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Dashboard, screenshot

pytestmark = pytest.mark.browser

# Every line tries to run code that sets window.pwned (or opens a dialog).
HOSTILE_MARKDOWN = """# Quarterly report

**Totals** are below.

| region | rows |
|--------|------|
| eu     | 12   |

<script>window.pwned = 'script'</script>
<img src="https://127.0.0.1:9/x.png" onerror="window.pwned = 'onerror'">
<svg onload="window.pwned = 'svg'"><circle r="5"/></svg>
<iframe src="javascript:parent.pwned = 'iframe'"></iframe>
<iframe srcdoc="<script>parent.pwned = 'srcdoc'</script>"></iframe>
<a href="javascript:window.pwned = 'link'" id="js-link">a javascript: link</a>
[markdown link](javascript:window.pwned='md-link')
<a href="JaVaScRiPt:window.pwned='mixed-case'">mixed case</a>
<a href="data:text/html,<script>alert(1)</script>">data link</a>
<details open ontoggle="window.pwned = 'ontoggle'"><summary>more</summary>hidden</details>
<form action="javascript:window.pwned='form'"><button id="form-button">send</button></form>
<style>body { display: none }</style>
<object data="javascript:window.pwned='object'"></object>
<input autofocus onfocus="window.pwned = 'onfocus'">
<div style="background:url(javascript:window.pwned='css')">styled</div>
<div onclick="window.pwned='click'">click me</div>

[safe link](https://example.com/report)
"""


def test_hostile_markdown_runs_nothing_in_the_browser(page: Any, dashboard: Dashboard) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    run = dashboard.start_run("report")
    dashboard.ok(
        dashboard.api.post(
            "/artifacts",
            json={
                "type": "markdown",
                "data": HOSTILE_MARKDOWN,
                "key": "hostile",
                "flow_run_id": run["id"],
                "description": "<script>window.pwned = 'description'</script>",
            },
        )
    )
    for path in (f"/runs/{run['id']}", "/artifacts/hostile"):
        page.goto(dashboard.url + path)
        article = page.locator("article.artifact-markdown").first
        expect(article.locator("h1")).to_have_text("Quarterly report")
        expect(article.locator("table td").first).to_have_text("eu")
        expect(article.locator("strong")).to_have_text("Totals")
        # The description is text, not markup.
        expect(article).to_contain_text("<script>window.pwned = 'description'</script>")
        markdown = article.locator(".markdown")
        for dangerous in ("script", "iframe", "svg", "style", "object", "form", "input"):
            assert markdown.locator(dangerous).count() == 0, dangerous
        handlers = markdown.evaluate(
            "el => [...el.querySelectorAll('*')].flatMap(n => [...n.attributes]"
            ".filter(a => a.name.startsWith('on') || a.name === 'style' || a.name === 'srcdoc')"
            ".map(a => a.name))"
        )
        assert handlers == []
        hrefs = markdown.evaluate("el => [...el.querySelectorAll('[href]')].map(a => a.href)")
        assert hrefs and all(h.startswith(("https:", "http:")) for h in hrefs), hrefs
        # Clicking what is left does nothing either.
        for text in ("a javascript: link", "mixed case", "click me"):
            markdown.get_by_text(text).click()
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("body").is_visible()
    assert dialogs == []
    screenshot(page, "artifact-history")


def test_run_artifacts_tables_and_a_live_progress_bar(page: Any, dashboard: Dashboard) -> None:
    run = dashboard.start_run("load")
    post = dashboard.api.post
    dashboard.ok(
        post(
            "/artifacts",
            json={
                "type": "table",
                "key": "files",
                "flow_run_id": run["id"],
                "data": [{"file": "a.csv", "rows": 120}, {"file": "b.csv", "rows": 80}],
            },
        )
    )
    progress = dashboard.ok(
        post("/artifacts", json={"type": "progress", "data": 10, "flow_run_id": run["id"]})
    )
    page.goto(dashboard.url + f"/runs/{run['id']}")
    section = page.locator("#run-artifacts")
    table = section.locator("article.artifact-table table")
    expect(table.locator("thead th")).to_have_text(["file", "rows"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["a.csv", "120"])
    bar = section.locator("progress")
    expect(bar).to_have_attribute("value", "10.0")

    dashboard.ok(dashboard.api.patch(f"/artifacts/{progress['id']}", json={"data": 65}))
    expect(section.locator("progress")).to_have_attribute("value", "65.0", timeout=8000)
    dashboard.ok(
        post("/artifacts", json={"type": "markdown", "data": "*late*", "flow_run_id": run["id"]})
    )
    expect(section.locator("article.artifact")).to_have_count(3, timeout=8000)
    screenshot(page, "flow-run-artifacts")

    page.goto(dashboard.url + "/artifacts")
    expect(page.locator('tr[data-key="files"]')).to_contain_text("table")


def test_variables_are_created_edited_and_deleted_from_their_page(
    page: Any, dashboard: Dashboard
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    dashboard.ok(dashboard.api.post("/variables", json={"name": "region", "value": "eu-west"}))
    page.goto(dashboard.url + "/variables")
    expect(page.locator('tr[data-variable="region"]')).to_contain_text('"eu-west"')

    form = page.locator("#variable-form")
    form.locator("input[name=name]").fill("limits")
    form.locator("textarea[name=value]").fill('{"max": 3}')
    form.locator("input[name=tags]").fill("ops, nightly")
    form.locator("button[type=submit]").click()
    row = page.locator('tr[data-variable="limits"]')
    expect(row).to_contain_text('{"max": 3}')
    expect(row).to_contain_text("nightly")
    assert dashboard.ok(dashboard.api.get("/variables/limits"))["value"] == {"max": 3}

    row.get_by_role("button", name="Edit").click()
    expect(form.locator("textarea[name=value]")).to_have_value('{"max": 3}')
    form.locator("textarea[name=value]").fill("5")
    form.locator("button[type=submit]").click()
    # The page reloads with the new value ("5" alone could match the row's timestamp).
    expect(page.locator('tr[data-variable="limits"]')).not_to_contain_text('"max"')
    assert dashboard.ok(dashboard.api.get("/variables/limits"))["value"] == 5

    form.locator("input[name=name]").fill("bad/name")
    form.locator("textarea[name=value]").fill("1")
    form.locator("button[type=submit]").click()
    expect(page.locator("#variable-error")).to_contain_text("cannot contain '/'")
    screenshot(page, "variables")

    page.locator('tr[data-variable="region"]').get_by_role("button", name="Delete").click()
    expect(page.locator('tr[data-variable="region"]')).to_have_count(0)
    assert dashboard.api.get("/variables/region").status_code == 404
