"""`flow.serve(...)` and `headrace.serve(...)`: a script that deploys its flows and runs their
scheduled and manual runs itself, stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import sys
from pathlib import Path

import headrace
from headrace import flow

OUT = Path(__file__).resolve().parent / "ran.txt"


@flow
def tick(word: str = "tick") -> str:
    with open(OUT, "a") as file:
        file.write(word + "\\n")
    return word


@flow
def tock() -> None:
    with open(OUT, "a") as file:
        file.write("tock\\n")


if __name__ == "__main__":
    if sys.argv[1] == "one":
        tick.serve(name="every2", interval=2, parameters={"word": "scheduled"})
    else:
        # Made before `headrace.serve` is looked up: it must still be the function.
        deployments = [tick.to_deployment("manual"), tock.to_deployment("manual")]
        headrace.serve(*deployments, limit=2)
"""


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The scheduler looks often, so an interval-2 schedule has runs within a second or two.
    return {"scheduler_interval_seconds": 0.5, "log_level": "warning"}


@pytest.fixture
def script(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "served.py").write_text(textwrap.dedent(SCRIPT))
    return folder / "served.py"


@pytest.fixture
def start_serving(live_server: Any, script: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env.update(
            HEADRACE_API_URL=live_server.url,
            HEADRACE_HOME=str(tmp_path / "home"),
            HEADRACE_WORKER_CLAIM_WAIT_SECONDS="1",
            HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="5",
        )
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, str(script), mode],
            cwd=tmp_path,  # not the script's folder: serve deploys the flow file's folder
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_until(check: Any, what: str, log: Path, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not seen after {timeout}s; output:\n{log.read_text()}")


def stop(process: subprocess.Popen[str], log: Path) -> None:
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(20) == 0, log.read_text()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"serve did not stop on SIGINT:\n{log.read_text()}") from None


def completed_runs(http: httpx.Client, deployment_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = http.get(
        "/flow_runs", params={"deployment_id": deployment_id, "state_type": "COMPLETED"}
    ).json()["items"]
    return runs


def run_and_wait(http: httpx.Client, deployment: str, log: Path) -> dict[str, Any]:
    created = http.post(f"/deployments/name/{deployment}/runs", json={})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = http.get(f"/flow_runs/{run_id}").json()
        return run if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED"} else None

    run: dict[str, Any] = wait_until(finished, f"run {run_id} of {deployment} finished", log)
    return run


def test_flow_serve_runs_its_scheduled_and_manual_runs(
    start_serving: Any, http: httpx.Client, script: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    process = start_serving("one")

    def deployed() -> dict[str, Any] | None:
        response = http.get("/deployments/name/tick/every2")
        return response.json() if response.status_code == 200 else None

    deployment = wait_until(deployed, "the deployment tick/every2", log)
    assert deployment["work_pool_name"] == "serve-tick-every2"
    assert deployment["path"] == str(script.parent.resolve())
    assert deployment["entrypoint"] == "served.py:tick"
    # Scheduled runs, each with the deployment's parameters, run by the serving process.
    wait_until(lambda: len(completed_runs(http, deployment["id"])) >= 2, "2 scheduled runs", log)
    assert "scheduled" in (script.parent / "ran.txt").read_text().split()
    manual = run_and_wait(http, "tick/every2", log)
    assert manual["state_type"] == "COMPLETED", log.read_text()
    stop(process, log)
    # Stopped: no worker of its pool is serving any more.
    lines = len((script.parent / "ran.txt").read_text().split())
    time.sleep(3)
    assert len((script.parent / "ran.txt").read_text().split()) == lines


def test_headrace_serve_runs_several_deployments(
    start_serving: Any, http: httpx.Client, script: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    process = start_serving("several")
    wait_until(
        lambda: http.get("/deployments/name/tock/manual").status_code == 200,
        "the deployments",
        log,
    )
    assert run_and_wait(http, "tick/manual", log)["state_type"] == "COMPLETED", log.read_text()
    assert run_and_wait(http, "tock/manual", log)["state_type"] == "COMPLETED", log.read_text()
    assert sorted((script.parent / "ran.txt").read_text().split()) == ["tick", "tock"]
    stop(process, log)
