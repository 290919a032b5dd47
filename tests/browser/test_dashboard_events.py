"""The Events page in a real browser: filtered by name prefix, and live."""

from __future__ import annotations

import time
from pathlib import Path
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


EMITTING_SCRIPT = """
import sys, time
from pathlib import Path
from headrace import flow
from headrace.events import emit_event, flush_events

@flow
def emitting(gate: str, end: str) -> None:
    while not Path(gate).exists():   # the test opens the gate once the page is live
        time.sleep(0.05)
    emit_event("demo.rows.loaded", resource={"headrace.resource.id": "table.orders"})
    flush_events()
    while not Path(end).exists():
        time.sleep(0.05)

emitting(sys.argv[1], sys.argv[2])
"""


def test_run_page_shows_events_of_the_run_as_they_are_sent(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    """Events sent while the page is open appear on it with no state change of the run: one
    emitted by the flow itself (emit_event), one posted to the API by another program."""
    script, gate, end = tmp_path / "emitting.py", tmp_path / "gate", tmp_path / "end"
    script.write_text(EMITTING_SCRIPT)
    with dashboard.script(script, str(gate), str(end)) as process:
        run_id = _running_run(dashboard, "emitting")
        page.goto(f"{dashboard.url}/runs/{run_id}")
        expect(page.locator("#live")).to_have_text("live")
        events = page.locator("section[aria-labelledby=events-h] li")
        expect(events.filter(has_text="headrace.flow-run.Running")).to_have_count(1)
        expect(events.filter(has_text="demo.")).to_have_count(0)

        gate.touch()
        expect(events.filter(has_text="demo.rows.loaded")).to_contain_text("table.orders")
        related = [{"headrace.resource.id": f"headrace.flow-run.{run_id}"}]
        body = {
            "events": [
                {
                    "event": "demo.checked",
                    "resource": {"headrace.resource.id": "checker"},
                    "related": related,
                }
            ]
        }
        dashboard.ok(dashboard.api.post("/event_feed", json=body))
        expect(events.filter(has_text="demo.checked")).to_contain_text("checker")
        # Neither event changed the run: it is still Running while they appeared.
        expect(page.locator("#run-live h1")).to_contain_text("Running")
        end.touch()
        expect(page.locator("#run-live h1")).to_contain_text("Completed", timeout=30_000)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output


def _running_run(dashboard: Dashboard, flow: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = dashboard.api.get("/flow_runs", params={"flow_name": flow}).json()
        if runs["items"] and runs["items"][0]["state_type"] == "RUNNING":
            run_id: str = runs["items"][0]["id"]
            return run_id
        time.sleep(0.1)
    raise AssertionError(f"no run of {flow} became Running")
