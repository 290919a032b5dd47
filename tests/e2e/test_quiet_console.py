"""The console of `headrace server start`: quiet at the default level, detailed at debug."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.fernet import Fernet

from tests.conftest import ServerProcess, free_port, headrace_command, wait_healthy

# Every loop runs several times within the observation window below.
FAST_LOOPS = {
    "reaper_interval_seconds": "1",
    "scheduler_interval_seconds": "1",
    "late_runs_interval_seconds": "1",
    "retention_interval_seconds": "1",
}
WATCH_SECONDS = 12


def exercise(server_url: str) -> None:
    """One good and one failed request, then the loops' time to run."""
    assert httpx.get(server_url + "/health").status_code == 200
    assert (
        httpx.get(server_url + "/flow_runs/00000000-0000-0000-0000-000000000000").status_code == 404
    )
    time.sleep(WATCH_SECONDS)


def test_default_level_prints_the_start_line_and_failed_requests_only(
    start_server: Callable[..., Any], database_url: str
) -> None:
    # The same name rule as in production (HEADRACE_ALLOWED_HOSTS given, so no rebinding
    # warning), and a block key given (a first start that makes
    # one says so once, as a warning).
    server = start_server(
        database_url=database_url,
        allowed_hosts="127.0.0.1",
        block_encryption_keys=Fernet.generate_key().decode(),
        **FAST_LOOPS,
    )
    exercise(server.url)
    assert server.stop() == 0
    lines = server.process.stdout.read().splitlines()

    assert lines[0].startswith("headrace server on http://127.0.0.1:"), lines
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r"INFO headrace\.access: GET /api/flow_runs/0{8}-0{4}-0{4}-0{4}-0{12} 404 in [0-9.]+ ms "
        r"\[request [0-9a-f]{32}\]",
        lines[1],
    ), lines


def test_debug_shows_every_loop_pass_by_name_and_every_request(database_url: str) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    environ.update({f"HEADRACE_{k.upper()}": v for k, v in FAST_LOOPS.items()})
    environ["HEADRACE_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [*headrace_command(), "server", "start", "--port", str(port), "--log-level", "DEBUG"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}/api", "", port)
    try:
        wait_healthy(server.url, process)
        exercise(server.url)
    finally:
        assert server.stop() == 0
    output = process.stdout.read() if process.stdout else ""

    for loop in ("reaper", "scheduler", "late_runs", "retention"):
        assert f'Running job "{loop} loop: ' in output, loop
    assert "_job.<locals>" not in output
    assert "DEBUG headrace.access: GET /api/health 200" in output
    assert "INFO headrace.access: GET /api/flow_runs/" in output


def test_an_unknown_log_level_is_a_one_line_error() -> None:
    result = subprocess.run(
        [*headrace_command(), "server", "start", "--log-level", "verbose"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "verbose" in result.stderr and "debug" in result.stderr
    environ = {**os.environ, "HEADRACE_LOG_LEVEL": "verbose"}
    result = subprocess.run(
        [*headrace_command(), "server", "start"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "HEADRACE_LOG_LEVEL" in result.stderr
