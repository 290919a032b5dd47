"""`headrace server start` as a user runs it: embedded Postgres, one server per home, restarts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx

CLI = [sys.executable, "-m", "headrace.cli.main"]


def test_embedded_server_keeps_runs_across_restarts(start_server: Callable[..., Any]) -> None:
    first = start_server()
    run = httpx.post(first.url + "/flow_runs", json={"flow_name": "kept"}).json()
    assert first.stop() == 0
    second = start_server(home=first.home, port=first.port)
    again = httpx.get(f"{second.url}/flow_runs/{run['id']}")
    assert again.status_code == 200 and again.json()["flow_name"] == "kept"
    page = httpx.get(second.url.removesuffix("/api") + "/")
    assert page.status_code == 200 and "headrace" in page.text


def test_second_server_on_the_same_home_fails_in_one_line(
    start_server: Callable[..., Any],
) -> None:
    first = start_server()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_HOME"] = first.home
    second = subprocess.run(
        [*CLI, "server", "start", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1
    assert "already runs on" in second.stderr
    assert httpx.get(first.url + "/health").status_code == 200  # the first one is untouched


def test_port_in_use_fails_in_one_line(start_server: Callable[..., Any], database_url: str) -> None:
    first = start_server(database_url=database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_DATABASE_URL"] = database_url
    env["HEADRACE_HOME"] = first.home + "-other"
    second = subprocess.run(
        [*CLI, "server", "start", "--port", str(first.port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "cannot listen on" in second.stderr and second.stderr.count("\n") == 1


def test_unreachable_database_url_fails_in_one_line(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    env["HEADRACE_HOME"] = str(tmp_path)
    result = subprocess.run(
        [*CLI, "server", "start", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot connect to the database")
    assert result.stderr.count("\n") == 1
