"""A real script's flow run, watched in the browser as it happens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import Dashboard

SCRIPT = """
import sys, time
from pathlib import Path
from headrace import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow(log_prints=True)
def from_a_script(gate: str) -> int:
    first = double(1)
    print("waiting for the gate", flush=True)
    while not Path(gate).exists():   # the test opens the gate once the page shows Running
        time.sleep(0.05)
    total = first + double(first)
    print(f"total {total}")
    return total

from_a_script(sys.argv[1])
"""


def test_a_script_run_appears_live_and_its_page_shows_tasks_and_logs(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    page.goto(dashboard.url + "/runs")
    expect(page.locator("#live")).to_have_text("live")
    script, gate = tmp_path / "script.py", tmp_path / "gate"
    script.write_text(SCRIPT)
    with dashboard.script(script, str(gate)) as process:
        row = page.locator("#run-rows tr", has_text="from-a-script")
        # Appeared without a reload (the script's own start may take seconds on a busy machine).
        expect(row).to_contain_text("Running", timeout=20_000)
        gate.touch()
        expect(row).to_contain_text("Completed")
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
    row.locator("a").first.click()
    expect(page.locator("body")).to_contain_text("total 6")
    expect(page.locator("body")).to_contain_text("double-1")
