"""`headrace --help`, drawn without typer and rich (most of the typed command's start for it):
the same characters as typer's rich help of the listing app (`main._listing_app`), in a
terminal (with typer's styles) or not.

Where the layout would depend on more than this draws (a help line rich would wrap inside a
word, markup or option names in a help line, a console narrower than the usage line...), None:
typer prints the help.
"""

from __future__ import annotations

import os
import re
import sys

from headrace.cli.groups import DESCRIPTION, GROUPS
from headrace.cli.quick import console

# What typer's highlighter styles, rich markup, emoji codes: left to typer.
_STYLED = re.compile(r"(^|\W)-|[\[\]\\<>]|:\S*:|\x1b")
# typer's styles (rich_utils): bold, usage (yellow), a switch (-m: bold green), the commands'
# column (bold cyan), panel borders (dim).
_BOLD, _USAGE, _SWITCH, _COMMAND, _BORDER = "1", "1;33", "1;32", "1;36", "2"
_SWITCH_IN_USAGE = re.compile(r"(?<=\W)-\w+(?![a-zA-Z0-9])")
# The one option of the listing, as typer's highlighters cut it into styled segments.
_HELP_OPTION: tuple[tuple[str, str], ...] = (
    ("-", "1;36"),
    ("-help", "1;36"),
    ("        ", ""),
    ("<", "1;2;33"),
    ("bool", "1;33"),
    (">", "1;2;33"),
    ("  ", ""),
)
_HELP_OPTION_TEXT = "Show this message and exit."


def text() -> str | None:
    """What `headrace --help` prints, or None (typer prints it)."""
    if not console.plain_environment():
        return None
    width, styles = console.width(), console.writes_styles()
    usage = f"{program_name()} [OPTIONS] COMMAND [ARGS]..."
    if len("Usage: " + usage) > _click_width() or len("Usage: " + usage) + 2 > width:
        return None
    commands = [(name, group.help) for name, group in GROUPS.items() if name == "deploy"]
    commands += [(name, group.help) for name, group in GROUPS.items() if name != "deploy"]
    if any(_STYLED.search(help_line) for _, help_line in commands) or "--" in usage:
        return None
    name_width = max(len(name) for name, _ in commands)
    help_width = width - 6 - name_width
    if len(DESCRIPTION) + 2 > width or help_width < 20 or width - 4 < 49:
        return None
    lines = _usage(usage, width, styles)
    lines += [f" {DESCRIPTION.ljust(width - 2)} ", " " * width]
    lines += _panel("Options", [_option_row(width, styles)], width, styles)
    rows: list[str] = []
    for name, help_line in commands:
        wrapped = _wrap(help_line, help_width)
        if wrapped is None:
            return None
        for index, line in enumerate(wrapped):
            if index == 0:
                cell = console.styled(name.ljust(name_width), _COMMAND, styles)
                cell += console.styled(" ", _COMMAND, styles)
            else:
                cell = console.styled(" " * (name_width + 1), _COMMAND, styles)
            rows.append(f"{cell} {line.ljust(help_width)}")
    lines += _panel("Commands", rows, width, styles)
    return "\n".join(lines) + "\n\n"  # click adds a line after typer's help


def program_name() -> str:
    """The program's name in the usage line, as click finds it."""
    main = sys.modules["__main__"]
    path = sys.argv[0]
    package = getattr(main, "__package__", None)
    if package in (None, ""):
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def _click_width() -> int:
    # The width click formats the usage line to (its HelpFormatter's, from shutil's terminal size).
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return max(min(columns or 80, 80) - 2, 50)


def _usage(usage: str, width: int, styles: bool) -> list[str]:
    # typer pads the usage line by one all round, all in bold; a switch (`python -m`) in green.
    parts = [console.styled(" ", _BOLD, styles), console.styled("Usage: ", _USAGE, styles)]
    start = 0
    for switch in _SWITCH_IN_USAGE.finditer(usage):
        parts.append(console.styled(usage[start : switch.start()], _BOLD, styles))
        parts.append(console.styled(switch.group(), _SWITCH, styles))
        start = switch.end()
    parts.append(console.styled(usage[start:], _BOLD, styles))
    parts.append(console.styled(" " * (width - 2 - len("Usage: " + usage)), _BOLD, styles))
    parts.append(console.styled(" ", _BOLD, styles))
    blank = console.styled(" " * width, _BOLD, styles)
    return [blank, "".join(parts), blank]


def _option_row(width: int, styles: bool) -> str:
    option = "".join(console.styled(part, sgr, styles) for part, sgr in _HELP_OPTION)
    used = sum(len(part) for part, _ in _HELP_OPTION) + len(_HELP_OPTION_TEXT)
    return option + _HELP_OPTION_TEXT + " " * (width - 4 - used)


def _panel(title: str, rows: list[str], width: int, styles: bool) -> list[str]:
    """rich's rounded panel with a dim border, its title on the left, one space inside."""
    top = [("╭─", _BORDER), (f" {title} ", _BORDER), ("─" * (width - 6 - len(title)), _BORDER)]
    top.append(("─╮", _BORDER))
    side = console.styled("│", _BORDER, styles)
    return [
        "".join(console.styled(part, sgr, styles) for part, sgr in top),
        *[f"{side} {row} {side}" for row in rows],
        console.styled("╰" + "─" * (width - 2) + "╯", _BORDER, styles),
    ]


def _wrap(line: str, width: int) -> list[str] | None:
    """rich's word wrap of a help line (single spaces), or None if a word would be cut."""
    words = line.split(" ")
    if any(len(word) > width for word in words) or "  " in line:
        return None
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
