"""A paused run's page: the Resume form drawn from the RunInput schema, filled in a real
browser, reaches the waiting flow as its typed input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import Dashboard, screenshot

SCRIPT = """
from pydantic import Field

from headrace import flow
from headrace.flow_runs import pause_flow_run
from headrace.input import RunInput


class Approval(RunInput):
    \"\"\"Approve the nightly load before it writes to the warehouse.\"\"\"

    approver: str = Field(description="Who approves (initials)", max_length=5)
    copies: int = Field(default=1, description="How many copies to load")
    urgent: bool = False


@flow(name="awaiting-approval")
def awaiting_approval() -> str:
    answer = pause_flow_run(wait_for_input=Approval, timeout=120)
    line = f"approved by {answer.approver}: {answer.copies * 10} rows, urgent={answer.urgent}"
    print(line, flush=True)
    return line


awaiting_approval()
"""


def test_resume_form_sends_typed_input_and_shows_errors_by_the_field(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    script = tmp_path / "approval.py"
    script.write_text(SCRIPT)
    with dashboard.script(script) as process:
        run_id = _paused_run(dashboard)
        page.goto(f"{dashboard.url}/runs/{run_id}")
        form = page.locator("#resume-form")
        expect(page.locator(".resume-section")).to_contain_text("Approve the nightly load")
        expect(form).to_contain_text("Who approves (initials)")
        expect(page.locator("#input-copies")).to_have_value("1")  # the model's default
        # The page's script wires the form up: a submit before it has run does nothing.
        expect(page.locator("#live")).to_have_text("live")

        page.fill("#input-approver", "somebody")  # longer than max_length: the API refuses it
        page.fill("#input-copies", "3")
        page.check("#input-urgent")
        form.locator("button[type=submit]").click()
        expect(page.locator("#input-approver-error")).to_contain_text("too long")
        assert dashboard.api.get(f"/flow_runs/{run_id}").json()["state_name"] == "Paused"
        screenshot(page, "flow-run-resume")

        page.fill("#input-approver", "ann")
        form.locator("button[type=submit]").click()
        expect(page.locator("#run-live h1")).to_contain_text("Completed", timeout=30_000)
        expect(page.locator("#resume-form")).to_have_count(0)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "approved by ann: 30 rows, urgent=True" in output


BARE_SCRIPT = """
from typing import Literal

from headrace import flow
from headrace.flow_runs import pause_flow_run


@flow(name="awaiting-approval")
def pick() -> str:
    color = pause_flow_run(wait_for_input=Literal["red", "blue"], timeout=120)
    rows = pause_flow_run(wait_for_input=int, timeout=120)
    print(f"picked {color!r} x{rows * 2}", flush=True)
    return color


pick()
"""


def test_resume_form_of_a_pause_for_a_bare_type_has_one_value_field(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    script = tmp_path / "pick.py"
    script.write_text(BARE_SCRIPT)
    with dashboard.script(script) as process:
        run_id = _paused_run(dashboard)
        page.goto(f"{dashboard.url}/runs/{run_id}")
        expect(page.locator("#live")).to_have_text("live")
        form = page.locator("#resume-form")
        # A Literal is a choice between its values.
        page.select_option("#input-value", "blue")
        form.locator("button[type=submit]").click()
        # The second pause (an int) replaces the form live.
        expect(page.locator("#input-value")).to_have_attribute("type", "number", timeout=30_000)
        page.fill("#input-value", "21")
        page.locator("#resume-form button[type=submit]").click()
        expect(page.locator("#run-live h1")).to_contain_text("Completed", timeout=30_000)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "picked 'blue' x42" in output


def _paused_run(dashboard: Dashboard) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = dashboard.api.get("/flow_runs", params={"flow_name": "awaiting-approval"}).json()
        if runs["items"] and runs["items"][0]["state_type"] == "PAUSED":
            run_id: str = runs["items"][0]["id"]
            return run_id
        time.sleep(0.1)
    raise AssertionError("the run never paused")
