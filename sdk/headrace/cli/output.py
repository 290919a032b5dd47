"""How the CLI prints: rich tables for people, `--json` for programs, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

# Piped output is read by programs and greps: do not fold it to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=240)

STATE_STYLES = {
    "COMPLETED": "green",
    "FAILED": "red",
    "CRASHED": "red",
    "RUNNING": "blue",
    "PENDING": "cyan",
    "SCHEDULED": "yellow",
    "CANCELLING": "magenta",
    "CANCELLED": "magenta",
    "PAUSED": "yellow",
}


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    elif isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        text = json.dumps([v.model_dump(mode="json") for v in value], indent=2)
    else:
        text = json.dumps(value, indent=2, default=str)
    sys.stdout.write(text + "\n")


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
    *,
    to: Console | None = None,
) -> None:
    """Print a table on `to` (stdout's console unless told); `headrace.cli.quick.table` draws
    the same one without rich, and a test holds the two to the same characters."""
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*[_cell(c) for c in row])
    (to or console).print(grid)


def state_text(state_type: str, state_name: str) -> str:
    style = STATE_STYLES.get(state_type, "")
    return f"[{style}]{state_name}[/{style}]" if style else state_name


def timestamp(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timestamp(value)
    return str(value)
