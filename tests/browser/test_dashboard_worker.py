"""The Run form of a real deployment, completed by a real worker, watched in the browser."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import Dashboard

FLOW = """
from headrace import flow

@flow(log_prints=True)
def report(day: str, limit: int = 10) -> int:
    print(f"report for {day} with limit {limit}")
    return limit
"""


def test_run_form_starts_a_run_that_a_worker_completes(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    (tmp_path / "flows.py").write_text(FLOW)
    dashboard.ok(dashboard.api.post("/work_pools", json={"name": "browser", "type": "process"}))
    deployment = dashboard.ok(
        dashboard.api.post(
            "/deployments",
            json={
                "flow_name": "report",
                "name": "daily",
                "entrypoint": "flows.py:report",
                "path": str(tmp_path),
                "work_pool_name": "browser",
                "parameters": {"day": "2026-11-24"},
                "parameter_schema": {
                    "type": "object",
                    "properties": {
                        "day": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1, "default": 10},
                    },
                    "required": ["day"],
                },
            },
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=dashboard.url + "/api", HEADRACE_HOME=str(tmp_path / "home"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "headrace.cli.main", "worker", "start", "--pool", "browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page.goto(f"{dashboard.url}/deployments/{deployment['id']}")
        page.fill("#param-limit", "3")
        page.click("#run-form button[type=submit]")
        page.wait_for_url("**/runs/*")
        expect(page.locator("h1 .state")).to_have_text("Completed", timeout=30_000)
        expect(page.locator("body")).to_contain_text("report for 2026-11-24 with limit 3")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
