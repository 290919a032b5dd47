"""What the Prefect recorder and the headrace test share: where the corpus lives and how a run is
reduced to what a user sees (standard library only: it is imported under Prefect's venv too)."""

from __future__ import annotations

import json
import re
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
