"""Dark mode from the OS, a phone's screen, and the keyboard alone, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Dashboard, screenshot, task_report

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LONG_MESSAGE = "ValueError: " + "the_input_file_was_empty_" * 12  # no spaces to wrap at


def busy_run(dashboard: Dashboard) -> dict[str, Any]:
    """A running run with tasks, logs and a long unbroken message, as on a real day."""
    run = dashboard.start_run("nightly-etl-with-a-rather-long-flow-name", tags=["prod", "daily"])
    t0 = datetime.now(UTC) - timedelta(seconds=5)
    extract = task_report(run["id"], "extract-0", t0, 1.2)
    load = task_report(
        run["id"], "load-0", t0 + timedelta(seconds=1.3), 2, upstream=[extract["id"]]
    )
    dashboard.report_tasks(run["id"], [extract, load])
    dashboard.log(run["id"], (20, "starting"), (40, LONG_MESSAGE))
    failed = dashboard.start_run("report")
    dashboard.set_state(failed["id"], "FAILED", LONG_MESSAGE)
    return run


def background(page: Any) -> tuple[int, int, int]:
    colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(v) for v in colour.removeprefix("rgb(").rstrip(")").split(",")[:3])
    return red, green, blue


def test_dark_mode_follows_the_os(open_page: Callable[..., Any], dashboard: Dashboard) -> None:
    run = busy_run(dashboard)
    light = open_page(color_scheme="light")
    dark = open_page(color_scheme="dark")
    for tab in (light, dark):
        tab.goto(f"{dashboard.url}/runs/{run['id']}")
        expect(tab.locator("#logs li")).to_have_count(2)
    assert sum(background(light)) > 3 * 200  # near white
    assert sum(background(dark)) < 3 * 60  # near black
    text = dark.evaluate("getComputedStyle(document.body).color")
    assert text != light.evaluate("getComputedStyle(document.body).color")  # readable on dark
    screenshot(dark, "flow-run-dark")
    dark.goto(dashboard.url + "/")
    expect(dark.locator(".failure-message")).to_contain_text("ValueError")
    screenshot(dark, "overview-dark")


def scrolls_sideways(page: Any) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    )


def test_a_phone_screen_needs_no_sideways_scrolling(
    open_page: Callable[..., Any], dashboard: Dashboard
) -> None:
    run = busy_run(dashboard)
    phone = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for path in ("/", "/runs", f"/runs/{run['id']}", "/deployments", "/work-pools"):
        phone.goto(dashboard.url + path)
        expect(phone.locator("#live")).to_have_text("live")
        assert not scrolls_sideways(phone), f"{path} scrolls sideways on a phone"

    phone.goto(dashboard.url + "/runs")
    link = phone.locator(f'tr[data-run-id="{run["id"]}"] td a').first
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    screenshot(phone, "flow-runs-phone", full_page=False)
    phone.select_option("select[name=sort]", "name")  # the column heads' sorting, as a menu
    phone.locator("form.filters button[type=submit]").tap()
    expect(phone).to_have_url(re.compile(r"/runs\?.*\bsort=name\b"))
    phone.locator(f'tr[data-run-id="{run["id"]}"] td a').first.tap()
    expect(phone.locator("h1")).to_contain_text(run["name"])
    assert not scrolls_sideways(phone)
    screenshot(phone, "flow-run-phone", full_page=False)


def tab_to(page: Any, selector: str, presses: int = 40) -> Any:
    """Press Tab until the element matching `selector` has the focus; it must get there."""
    target = page.locator(selector)
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return target
    raise AssertionError(f"{selector} never got the focus after {presses} Tab presses")


def focus_ring(element: Any) -> str:
    style: str = element.evaluate(
        "el => { const s = getComputedStyle(el); return s.outlineStyle + ' ' + s.outlineWidth; }"
    )
    return style


def test_the_keyboard_alone_opens_a_run_and_cancels_it(page: Any, dashboard: Dashboard) -> None:
    run = busy_run(dashboard)
    page.goto(dashboard.url + "/runs")
    expect(page.locator("#live")).to_have_text("live")
    link = tab_to(page, f'tr[data-run-id="{run["id"]}"] td a[href="/runs/{run["id"]}"]')
    assert focus_ring(link) != "none 0px", "the focused link shows no focus ring"
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{dashboard.url}/runs/{run['id']}")

    expect(page.locator("#live")).to_have_text("live")
    cancel = tab_to(page, "button[data-action=cancel]")
    assert focus_ring(cancel) != "none 0px", "the focused button shows no focus ring"
    # Live updates re-render the run while it keeps the focus.
    dashboard.log(run["id"], (20, "still going"))
    dashboard.report_tasks(
        run["id"], [task_report(run["id"], "report-0", datetime.now(UTC), 1, state="RUNNING")]
    )
    expect(page.locator("svg.timeline g.bar")).to_have_count(3)
    expect(page.locator("button[data-action=cancel]")).to_be_focused()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.locator("h1 .state")).to_have_text("Cancelling")
    assert dashboard.api.get(f"/flow_runs/{run['id']}").json()["state_type"] == "CANCELLING"
