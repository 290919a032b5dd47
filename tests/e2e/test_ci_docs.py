"""docs/ci.md works as written: its flow file, its setup commands, its curl script (twice, as a
retried CI job) and its CLI command, run with bash against a real server with auth on and a real
worker, with only the variables the doc tells a user to set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

# The doc's script uses curl and jq, as a CI job would. CI installs them (.ci/run) and requires
# them; a developer's machine without them skips this file with one line saying how to run it.
_missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
if _missing:
    reason = f"docs/ci.md needs {' and '.join(_missing)}: apt-get install -y curl jq"
    if os.environ.get("HEADRACE_REQUIRE_TOOLS") == "1":
        raise RuntimeError(reason)
    pytestmark = [pytestmark, pytest.mark.skip(reason=reason)]  # type: ignore[assignment]

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == language]


def bash(stack: Any, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    # `headrace` on the PATH, as `pip install headrace` puts it there.
    path = f"{Path(sys.executable).parent}{os.pathsep}{stack.env['PATH']}"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=stack.folder,
        env={**stack.env, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_id_of(output: str) -> str:
    match = re.search(r"^run ([0-9a-f-]{36})", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_ci_doc_examples_trigger_and_wait(deployment_stack: Callable[..., Any]) -> None:
    stack = deployment_stack(auth=True)
    [flow_file] = blocks("python")
    (stack.folder / "flows" / "etl.py").write_text(flow_file)
    setup, script = blocks("shell")
    [cli_line] = [b.strip() for b in blocks("text") if b.startswith("headrace deployment run")]

    done = bash(stack, setup)
    assert done.returncode == 0, done
    stack.start_worker("ci")

    first = bash(stack, script, BUILD_ID="4711")
    assert first.returncode == 0, first
    run_id = run_id_of(first.stdout)
    assert f"run {run_id} completed" in first.stdout
    run = stack.read(run_id)
    assert (run["state_type"], run["parameters"], run["tags"]) == (
        "COMPLETED",
        {"day": "2026-11-25"},
        ["ci"],
    )
    # A retried job (same build): the same run, no second one.
    retried = bash(stack, script, BUILD_ID="4711")
    assert (retried.returncode, run_id_of(retried.stdout)) == (0, run_id), retried
    # The doc's CLI command uses the same key: it follows that run too.
    watched = bash(stack, cli_line, BUILD_ID="4711")
    assert (watched.returncode, run_id_of(watched.stdout)) == (0, run_id), watched
    runs = stack.http.get("/flow_runs").json()["items"]
    assert [r["id"] for r in runs] == [run_id]

    # A failing run makes the script exit 1.
    (stack.folder / "flows" / "etl.py").write_text(
        flow_file.replace('print(f"loading {day}")', 'raise RuntimeError(f"no data for {day}")')
    )
    failed = bash(stack, script, BUILD_ID="4712")
    assert failed.returncode == 1, failed
    assert "ended FAILED" in failed.stderr

    # Without a key the server refuses, and the script stops with curl's error.
    refused = bash(stack, script, BUILD_ID="4713", HEADRACE_API_KEY="")
    assert refused.returncode != 0
    assert "401" in refused.stderr or "error" in refused.stderr.lower(), refused
