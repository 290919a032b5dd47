"""Browser tests: Playwright driving Debian's chromium against a live headrace server.

Without chromium these tests skip with one line saying how to run them; with
HEADRACE_REQUIRE_BROWSER=1 (set by CI) they fail instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HOW_TO_RUN = "chromium not found: `apt-get install -y chromium` then `make test` runs these"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


# Module scope: Playwright's sync API keeps an asyncio loop running in the main thread while it
# lives, which would break asyncio.run() in every test collected after the browser tests.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("HEADRACE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HEADRACE_REQUIRE_BROWSER=1 but {HOW_TO_RUN}")
        pytest.skip(HOW_TO_RUN)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """Opens tabs with their own context options (viewport, color_scheme); each must end the
    test with no JavaScript error."""
    # Depends on live_server so the tabs (and their open SSE streams) close before the server
    # stops; uvicorn otherwise waits for the streams to end.
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(**options: Any) -> Any:
        settings = {"viewport": {"width": 1280, "height": 860}, "color_scheme": "light", **options}
        context = chromium.new_context(**settings)
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        return tab

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    return open_page()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save docs/screenshots/<name>.png; the docs show what the tests saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@dataclass
class Dashboard:
    """The live server seen from the browser (`url`) and from a script (`api`)."""

    url: str
    api: httpx.Client
    database_url: str

    def start_run(self, flow: str, **fields: Any) -> dict[str, Any]:
        body = {"flow_name": flow, "state": {"type": "RUNNING"}, **fields}
        run: dict[str, Any] = self.ok(self.api.post("/flow_runs", json=body))
        return run

    def set_state(self, run_id: str, state_type: str, message: str | None = None) -> None:
        body = {"state": {"type": state_type, "message": message}}
        self.ok(self.api.post(f"/flow_runs/{run_id}/set_state", json=body))

    def report_tasks(self, run_id: str, tasks: list[dict[str, Any]]) -> None:
        self.ok(self.api.post("/task_runs/batch", json={"task_runs": tasks}))

    def log(self, run_id: str, *lines: tuple[int, str]) -> None:
        now = datetime.now(UTC).isoformat()
        logs = [
            {"flow_run_id": run_id, "level": lvl, "name": "flow", "message": msg, "timestamp": now}
            for lvl, msg in lines
        ]
        self.ok(self.api.post("/logs", json={"logs": logs}))

    @contextlib.contextmanager
    def script(self, path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
        """A Python script run against this server (output piped), killed if still running
        when the block ends."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env["HEADRACE_API_URL"] = self.url + "/api"
        process = subprocess.Popen(
            [sys.executable, str(path), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    @staticmethod
    def ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture
def dashboard(live_server: Any) -> Iterator[Dashboard]:
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        yield Dashboard(live_server.url.removesuffix("/api"), api, live_server.database_url)


def task_report(
    run_id: str,
    name: str,
    start: datetime,
    seconds: float,
    state: str = "COMPLETED",
    upstream: list[str] | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """A task run as the SDK reports it: start, states, and the futures it waited on."""
    end = start + timedelta(seconds=seconds)
    terminal = state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
    states = [
        {
            "id": str(uuid.uuid4()),
            "type": "RUNNING",
            "name": "Running",
            "timestamp": start.isoformat(),
        }
    ]
    if terminal:
        states.append(
            {
                "id": str(uuid.uuid4()),
                "type": state,
                "name": state.capitalize(),
                "timestamp": end.isoformat(),
            }
        )
    return {
        "id": task_id or str(uuid.uuid4()),
        "flow_run_id": run_id,
        "name": name,
        "task_key": name.split("-")[0],
        "dynamic_key": name.rsplit("-", 1)[-1],
        "run_count": 1,
        "start_time": start.isoformat(),
        "end_time": end.isoformat() if terminal else None,
        "task_inputs": {"x": [{"id": u} for u in upstream]} if upstream else {},
        "states": states,
    }
