"""Bad values given to `headrace` commands, as real processes: each is one line on stderr and
exit code 2, never a traceback; a name the API would refuse is refused before anything is sent,
with the API's own message."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from headrace.schemas.names import MAX_NAME

HEADRACE = [sys.executable, "-m", "headrace.cli.main"]


def run_cli(
    *args: str, api_url: str = "http://127.0.0.1:9/api"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_API_URL"] = api_url
    return subprocess.run([*HEADRACE, *args], capture_output=True, text=True, env=env, timeout=60)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines
    for text in expected:
        assert text in lines[0], lines[0]


# No server is needed: every one of these is refused before the CLI connects (the API URL
# points at a closed port, so a request sent anyway would fail differently).
OFFLINE_CASES = [
    pytest.param(["work-pool", "create", ""], "a name cannot be empty", id="pool-empty"),
    pytest.param(["work-pool", "create", "   "], "a name cannot be empty", id="pool-blank"),
    pytest.param(
        ["work-pool", "create", "p" * 300],
        f"a name is at most {MAX_NAME} characters, this one has 300",
        id="pool-300-chars",
    ),
    pytest.param(["work-pool", "create", "a/b"], "cannot contain '/'", id="pool-slash"),
    pytest.param(["work-pool", "create", ".."], "cannot be '..'", id="pool-dotdot"),
    pytest.param(["work-pool", "create", "a\nb"], "control characters", id="pool-newline"),
    pytest.param(["work-pool", "inspect", "a/b"], "cannot contain '/'", id="pool-inspect-slash"),
    pytest.param(["work-pool", "delete", "a/b"], "cannot contain '/'", id="pool-delete-slash"),
    pytest.param(
        ["work-pool", "create", "ok", "--concurrency-limit", "-1"],
        "--concurrency-limit",
        id="pool-negative-limit",
    ),
    pytest.param(
        ["work-pool", "create", "ok", "--concurrency-limit", "many"],
        "--concurrency-limit",
        id="pool-limit-not-a-number",
    ),
    pytest.param(
        ["work-pool", "set-concurrency-limit", "ok", "3.5"], "whole number", id="pool-set-limit"
    ),
    pytest.param(
        ["work-queue", "create", "a/b", "--pool", "p"], "cannot contain '/'", id="queue-slash"
    ),
    pytest.param(
        ["work-queue", "create", "q", "--pool", ""], "a name cannot be empty", id="queue-pool"
    ),
    pytest.param(
        ["work-queue", "create", "q", "--pool", "p", "--priority", "0"],
        "--priority",
        id="queue-priority-0",
    ),
    pytest.param(["concurrency-limit", "create", "a/b", "1"], "'/'", id="limit-tag-slash"),
    pytest.param(["concurrency-limit", "create", "t", "--", "-1"], "'limit'", id="limit-negative"),
    pytest.param(["concurrency-limit", "create", "t", "-1"], "No such option", id="limit-dash"),
    pytest.param(["concurrency-limit", "inspect", ""], "cannot be empty", id="limit-empty"),
    pytest.param(["deployment", "inspect", "etl/a/b"], "cannot contain '/'", id="deployment"),
    pytest.param(["deployment", "run", "etl/" + "d" * 300], "at most", id="deployment-long"),
    pytest.param(
        ["deployment", "run", "etl/daily", "--timeout", "-1"], "--timeout", id="watch-timeout"
    ),
    pytest.param(["worker", "start", "--pool", "a/b"], "cannot contain '/'", id="worker-pool"),
    pytest.param(["worker", "start", "--pool", "p", "--limit", "0"], "--limit", id="worker-0"),
    pytest.param(["flow-run", "ls", "--limit", "100000"], "--limit", id="flow-run-ls-limit"),
    pytest.param(["server", "start", "--port", "99999"], "--port", id="port-99999"),
    pytest.param(["server", "start", "--port", "-1"], "--port", id="port-minus-1"),
    pytest.param(["server", "start", "--port", "http"], "--port", id="port-not-a-number"),
    pytest.param(
        ["server", "database", "vacuum", "--older-than-days", "0"], "--older-than-days", id="vacuum"
    ),
    pytest.param(["work-pool", "create"], "Missing argument", id="missing-argument"),
    pytest.param(["work-pool", "ls", "--bogus"], "No such option", id="unknown-option"),
    pytest.param(["work-pool"], "Missing command", id="missing-command"),
    pytest.param(["no-such-command"], "No such command", id="unknown-command"),
    pytest.param(
        ["worker", "start", "--pool", "p", "--start-method", "vfork"],
        "'vfork' is not one of 'fork', 'spawn'",
        id="worker-start-method",
    ),
]


@pytest.mark.parametrize(("args", "message"), OFFLINE_CASES)
def test_a_bad_value_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    assert_one_line_error(run_cli(*args), message)


def test_a_bad_port_in_the_environment_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    done = subprocess.run(
        [*HEADRACE, "server", "start"],
        capture_output=True,
        text=True,
        env={**env, "HEADRACE_PORT": "70000"},
        timeout=60,
    )
    assert_one_line_error(done, "HEADRACE_PORT", "65535")


def test_a_bad_worker_start_method_in_the_environment_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    done = subprocess.run(
        [*HEADRACE, "worker", "start", "--pool", "p"],
        capture_output=True,
        text=True,
        env={**env, "HEADRACE_WORKER_START_METHOD": "vfork"},
        timeout=60,
    )
    assert_one_line_error(done, "HEADRACE_WORKER_START_METHOD", "'fork' or 'spawn'")


def test_the_cli_and_the_api_refuse_a_slashed_name_with_the_same_message(
    api_url: str, http: httpx.Client
) -> None:
    """The bug: `work-pool create a/b` made a pool no command could read nor delete."""
    api = http.post("/work_pools", json={"name": "a/b", "type": "process"})
    assert api.status_code == 422
    cli = run_cli("work-pool", "create", "a/b", api_url=api_url)
    assert_one_line_error(cli)
    message = "a name cannot contain '/' (names are parts of URLs), got 'a/b'"
    assert message in api.json()["detail"]
    assert message in cli.stderr
    # What was refused was never created; a good name still works end to end.
    assert all(p["name"] != "a/b" for p in http.get("/work_pools").json())
    made = run_cli("work-pool", "create", "  tidy-pool  ", api_url=api_url)
    assert made.returncode == 0, made.stderr
    assert http.get("/work_pools/tidy-pool").status_code == 200
    gone = run_cli("work-pool", "delete", "tidy-pool", api_url=api_url)
    assert gone.returncode == 0, gone.stderr


def test_help_still_prints_and_exits_0() -> None:
    done = run_cli("work-pool", "create", "--help")
    assert done.returncode == 0
    assert "Usage" in done.stdout
