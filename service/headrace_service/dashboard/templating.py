"""The Jinja2 environment of the dashboard and the filters its templates use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from headrace._state_types import TERMINAL_TYPES

HERE = Path(__file__).parent
TERMINAL = {t.value for t in TERMINAL_TYPES}


def timestamp(value: datetime | None) -> str:
    """ISO time for <time datetime=...>; the browser shows it in the viewer's time zone."""
    return value.astimezone(UTC).isoformat() if value else ""


def short_time(value: datetime | None) -> str:
    """A readable UTC fallback shown until the script localises it (and without JS)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "—"
    seconds = ((end or datetime.now(UTC)) - start).total_seconds()
    return human_seconds(seconds)


def human_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return str(timedelta(seconds=round(seconds)))


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(
    timestamp=timestamp, short_time=short_time, pretty_json=pretty_json, seconds=human_seconds
)
templates.globals.update(duration=duration, TERMINAL=TERMINAL)


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def bad_request(message: str) -> HTMLResponse:
    return render("error.html", status_code=400, title="Bad request", message=message)


def not_found(message: str) -> HTMLResponse:
    return render("error.html", status_code=404, title="Not found", message=message)
