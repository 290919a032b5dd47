"""What rich's console would be on stdout (its width, whether it writes styles), found the way
rich finds it, without importing rich; None where the environment could make rich decide
otherwise (then the typed command prints, with rich)."""

from __future__ import annotations

import os
import sys

# Variables with which rich or typer's help would pick a terminal, colours or a width.
_STEERING = (
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "NO_COLOR",
    "JUPYTER_COLUMNS",
    "TERMINAL_WIDTH",
    "GITHUB_ACTIONS",
    "PY_COLORS",
    "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
)


def plain_environment() -> bool:
    """Whether rich would set its console up from stdout and the standard variables alone, and
    draw boxes in UTF-8."""
    if sys.platform == "win32" or any(name in os.environ for name in _STEERING):
        return False
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown") and sys.stdout.isatty():
        return False  # rich's dumb terminal: its own size, no styles
    return (sys.stdout.encoding or "").lower().startswith("utf")  # rich draws ASCII boxes else


def writes_styles() -> bool:
    """Whether rich writes bold, colours... (to a terminal, in a plain environment)."""
    return sys.stdout.isatty()


def width() -> int:
    """The width of a rich console not given one."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    for descriptor in (0, 1, 2):  # where rich looks for the terminal's size, in this order
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except (ValueError, OSError):
            continue
    return 80


def styled(text: str, sgr: str, styles: bool) -> str:
    """`text` as rich writes one segment of it in style `sgr` (e.g. "1;36": bold cyan)."""
    return f"\x1b[{sgr}m{text}\x1b[0m" if styles and sgr else text
