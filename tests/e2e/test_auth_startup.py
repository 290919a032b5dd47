"""The safe default of `headrace server start`: no auth on a public address only when asked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx

from headrace.client import HeadraceClient

CLI = [sys.executable, "-m", "headrace.cli.main"]


def test_public_address_without_auth_is_refused_in_one_line(
    start_server: Callable[..., Any], database_url: str
) -> None:
    server = start_server(database_url=database_url, wait=False, host="0.0.0.0")
    assert server.process.wait(60) == 2
    output = server.process.stdout.read()
    assert output.count("\n") == 1, output
    assert "refusing to listen on 0.0.0.0 without auth" in output
    assert "--insecure-no-auth" in output


def test_public_address_with_auth_starts_and_wants_keys(
    start_server: Callable[..., Any], database_url: str
) -> None:
    server = start_server(database_url=database_url, host="0.0.0.0", auth_enabled="true")
    assert httpx.get(server.url + "/flow_runs").status_code == 401
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_DATABASE_URL"] = database_url
    made = subprocess.run(
        [*CLI, "server", "api-key", "create", "ops"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    with HeadraceClient(server.url, api_key=made.stdout.strip(), retries=0) as client:
        assert client.get_json("/flow_runs")["items"] == []
