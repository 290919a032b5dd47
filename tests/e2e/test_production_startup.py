"""How `headrace server start` behaves under docker compose or systemd: the bootstrap key given by
environment, and the wait for a database that is not up yet."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "headrace.cli.main"]
BOOTSTRAP_KEY = "hr_" + "b" * 40


def test_the_bootstrap_key_is_an_admin_key_that_survives_restarts_and_revocation(
    start_server: Callable[..., object], database_url: str
) -> None:
    env = {"auth_enabled": "true", "bootstrap_api_key": BOOTSTRAP_KEY}
    server = start_server(database_url=database_url, **env)
    url = server.url  # type: ignore[attr-defined]
    assert httpx.get(f"{url}/api_keys").status_code == 401
    admin = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    listed = httpx.get(f"{url}/api_keys", headers=admin)
    assert listed.status_code == 200, listed.text
    keys = listed.json()["items"]
    assert [k["name"] for k in keys] == ["bootstrap"] and keys[0]["scope"] == "admin"
    assert BOOTSTRAP_KEY not in listed.text

    # A second start (a restart, or a second replica) adds no second row.
    second = start_server(database_url=database_url, **env)
    again = httpx.get(f"{second.url}/api_keys", headers=admin)  # type: ignore[attr-defined]
    assert len(again.json()["items"]) == 1

    # Revoked, it stays revoked on the next start.
    assert httpx.delete(f"{url}/api_keys/{keys[0]['id']}", headers=admin).status_code == 200
    third = start_server(database_url=database_url, **env)
    refused = httpx.get(f"{third.url}/api_keys", headers=admin)  # type: ignore[attr-defined]
    assert refused.status_code == 401 and "revoked" in refused.text


def start_with(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_HOME"] = str(tmp_path)
    env.update({f"HEADRACE_{k.upper()}": v for k, v in variables.items()})
    return subprocess.run(
        [*CLI, "server", "start", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_short_bootstrap_key_is_refused_in_one_line(tmp_path: Path, database_url: str) -> None:
    result = start_with(
        tmp_path, database_url=database_url, auth_enabled="true", bootstrap_api_key="hr_short"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: HEADRACE_BOOTSTRAP_API_KEY must have 32")
    assert result.stderr.count("\n") == 1


def test_an_unreachable_database_is_retried_for_the_configured_time(tmp_path: Path) -> None:
    started = time.monotonic()
    result = start_with(
        tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        database_wait_seconds="2",
    )
    assert result.returncode == 2
    assert time.monotonic() - started >= 2
    # Each failed attempt says it retries; the last line is the one-line error.
    assert "retrying for up to" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot connect")
