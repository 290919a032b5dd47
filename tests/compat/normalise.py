"""What the Prefect recorder and the headrace test share: where the corpus lives and how a run is
reduced to what a user sees (standard library only: it is imported under Prefect's venv too)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
EXPECTED = HERE / "expected"
# Longest a single corpus script may take, under either Prefect or headrace.
TIMEOUT_SECONDS = 60

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Generated task-run names: Prefect adds "-" and three hex digits, headrace "-" and a counter.
_GENERATED_SUFFIX = re.compile(r"-(?:[0-9a-f]{3}|[0-9]+)$")


def normalise_stdout(text: str) -> list[str]:
    """The script's own output lines, ids replaced, trailing blanks dropped."""
    lines = [_UUID.sub("<uuid>", line.rstrip()) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def task_label(name: str) -> str:
    """A task run's name without the suffix either system generates."""
    return _GENERATED_SUFFIX.sub("", name)


def declared_run_name(source: str) -> bool:
    """Whether the script names its flow runs itself (otherwise names are random on both sides
    and are not compared)."""
    return "flow_run_name" in source


def sorted_flow_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(runs, key=lambda run: json.dumps(run, sort_keys=True))


def run_record(
    flow_name: str,
    name: str,
    subflow: bool,
    state: tuple[str, str],
    tasks: list[tuple[str, str, str]],
) -> dict[str, Any]:
    """One flow run as the recording holds it; `state` and each task are (type, name) and
    (task-run name, type, name)."""
    return {
        "flow_name": flow_name,
        "name": name,
        "subflow": subflow,
        "state_type": state[0],
        "state_name": state[1],
        "task_runs": [
            {"name": task_label(label), "state_type": kind, "state_name": state_name}
            for label, kind, state_name in sorted(
                tasks, key=lambda t: (task_label(t[0]), t[1], t[2])
            )
        ],
    }


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def run_python(python: str, script: Path, folder: Path, env: dict[str, str]) -> Outcome:
    """Run `script` with `python` in `folder`; a run past TIMEOUT_SECONDS is exit code -1."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [python, str(script)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return Outcome(-1, partial, f"timed out after {TIMEOUT_SECONDS} s", TIMEOUT_SECONDS)
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
