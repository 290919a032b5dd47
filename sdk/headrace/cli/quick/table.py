"""The table `headrace.cli.output.table` prints, drawn without rich (whose console and table
take about a tenth of a typed command's start), character for character.

Only where that is certain: cells of plain ASCII (no markup, emoji codes or wide characters),
a table that fits the console's width (rich would fold cells otherwise), a UTF-8 output, and a
console rich would set up from the standard variables alone. Otherwise `None`: the caller
prints with rich.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from headrace.cli.quick import console

# What rich prints as is in a table cell: no "[" (markup), ":" (emoji codes) or "\\" (escapes).
PLAIN = frozenset(string.ascii_letters + string.digits + " -_.,;@+=#%&*!?'\"()<>{}/|~^$`")
# What `output.console` is given when the output is not a terminal.
PIPE_WIDTH = 240


def console_shape() -> tuple[int, bool] | None:
    """The width of `output.console`, and whether it writes in bold; None if unsure."""
    if not console.plain_environment():
        return None
    if not console.writes_styles():
        return PIPE_WIDTH, False
    return console.width(), True


def render(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int, bold: bool
) -> str | None:
    """The table as rich draws it (heavy head, a bold header when `bold`), or None."""
    cells = [list(columns), *[list(row) for row in rows]]
    if any(len(row) != len(columns) or not all(_plain(cell) for cell in row) for row in cells):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    if sum(widths) + 3 * len(widths) + 1 > width:
        return None  # rich would shrink and fold columns
    lines = [_rule("┏", "━", "┳", "┓", widths)]
    lines.append(_row(columns, widths, "┃", bold))
    lines.append(_rule("┡", "━", "╇", "┩", widths))
    lines += [_row(row, widths, "│", False) for row in rows]
    lines.append(_rule("└", "─", "┴", "┘", widths))
    return "\n".join(lines) + "\n"


def _plain(cell: str) -> bool:
    return all(char in PLAIN for char in cell)


def _rule(left: str, line: str, cross: str, right: str, widths: list[int]) -> str:
    return left + cross.join(line * (width + 2) for width in widths) + right


def _row(cells: Sequence[str], widths: list[int], edge: str, bold: bool) -> str:
    # rich styles the padding and the text apart
    parts = [
        "".join(console.styled(part, "1", bold) for part in (" ", cell.ljust(width), " "))
        for cell, width in zip(cells, widths, strict=True)
    ]
    return edge + edge.join(parts) + edge
