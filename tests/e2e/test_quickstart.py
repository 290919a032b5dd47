"""The README's quickstart, as a user runs it: server process, script process, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

CLI = [sys.executable, "-m", "headrace.cli.main"]

GREETINGS = textwrap.dedent(
    """
    from headrace import flow, task

    @task
    def greet(name: str) -> str:
        return f"hi {name}"

    @task
    def shout(text: str) -> str:
        return text.upper()

    @flow(log_prints=True)
    def greetings(names: list[str]):
        for n in names:
            print(shout(greet(n)))

    if __name__ == "__main__":
        greetings(["ada", "grace"])
    """
)


def user_env(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_API_URL"] = api_url
    return env


def cli(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=user_env(api_url), capture_output=True, text=True, timeout=60
    )


def test_quickstart_script_is_tracked_and_shown_by_the_cli(
    start_server: Callable[..., Any], database_url: str, tmp_path: Path
) -> None:
    server = start_server(database_url=database_url)
    script = tmp_path / "greetings.py"
    script.write_text(GREETINGS)
    ran = subprocess.run(
        [sys.executable, str(script)],
        env=user_env(server.url),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["HI ADA", "HI GRACE"]
    assert "not being recorded" not in ran.stderr

    runs = httpx.get(server.url + "/flow_runs").json()["items"]
    assert len(runs) == 1
    run = runs[0]
    assert (run["flow_name"], run["state_name"]) == ("greetings", "Completed")
    assert run["parameters"] == {"names": ["ada", "grace"]}
    task_runs = httpx.get(f"{server.url}/flow_runs/{run['id']}/task_runs").json()
    assert sorted(t["name"].rsplit("-", 1)[0] for t in task_runs) == [
        "greet",
        "greet",
        "shout",
        "shout",
    ]
    assert {t["state_type"] for t in task_runs} == {"COMPLETED"}
    messages = [
        line["message"]
        for line in httpx.get(f"{server.url}/flow_runs/{run['id']}/logs").json()["items"]
    ]
    assert "HI ADA" in messages and "HI GRACE" in messages

    listing = cli(server.url, "flow-run", "ls")
    assert listing.returncode == 0 and run["name"] in listing.stdout
    assert "Completed" in listing.stdout
    as_json = json.loads(cli(server.url, "flow-run", "ls", "--json").stdout)
    assert as_json[0]["id"] == run["id"]

    inspected = cli(server.url, "flow-run", "inspect", run["id"])
    assert inspected.returncode == 0
    assert "Task runs (4)" in inspected.stdout and "ada" in inspected.stdout
    detail = json.loads(cli(server.url, "flow-run", "inspect", run["id"], "--json").stdout)
    assert [s["type"] for s in detail["states"]][-1] == "COMPLETED"
    assert len(detail["task_runs"]) == 4

    logs = cli(server.url, "flow-run", "logs", run["id"])
    assert logs.returncode == 0 and "HI ADA" in logs.stdout and "HI GRACE" in logs.stdout
    logs_json = json.loads(cli(server.url, "flow-run", "logs", run["id"], "--json").stdout)
    assert {"HI ADA", "HI GRACE"} <= {line["message"] for line in logs_json}


def test_cli_errors_are_one_line_with_exit_code_2(live_server: Any) -> None:
    missing = cli(live_server.url, "flow-run", "inspect", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: flow run") and missing.stderr.count("\n") == 1
    down = cli("http://127.0.0.1:9/api", "flow-run", "ls")
    assert down.returncode == 2 and "cannot reach the headrace API" in down.stderr
    assert down.stderr.count("\n") == 1


def test_import_headrace_does_not_load_the_server_stack() -> None:
    code = (
        "import sys, headrace; "
        "print(sorted(m for m in ('starlette', 'sqlalchemy', 'psycopg', 'uvicorn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
