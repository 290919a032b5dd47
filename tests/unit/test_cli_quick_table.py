"""The quick commands' table is the one rich draws for `headrace.cli.output.table`, character
for character, or none at all."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from headrace.cli.output import table
from headrace.cli.quick.table import PLAIN, render


def drawn_by_rich(columns: list[str], rows: list[list[str]], width: int, terminal: bool) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=terminal,
        color_system="standard" if terminal else None,
    )
    table(columns, rows, to=console)
    return out.getvalue()


def random_tables(count: int) -> list[tuple[list[str], list[list[str]], int, bool]]:
    chance = random.Random(18)  # the same tables on every run
    alphabet = sorted(PLAIN)

    def text(most: int, least: int = 0) -> str:
        return "".join(chance.choice(alphabet) for _ in range(chance.randint(least, most)))

    tables = []
    for _ in range(count):
        width = chance.randint(1, 7)
        columns = [text(14, 1) for _ in range(width)]
        rows = [[text(24) for _ in range(width)] for _ in range(chance.randint(0, 5))]
        tables.append((columns, rows, chance.choice([30, 60, 80, 120, 240]), chance.random() < 0.5))
    return tables


def test_the_quick_table_is_the_one_rich_draws_wherever_it_draws_one() -> None:
    drawn = 0
    for columns, rows, width, terminal in random_tables(600):
        quick = render(columns, rows, width, terminal)
        if quick is not None:
            drawn += 1
            assert quick == drawn_by_rich(columns, rows, width, terminal), (columns, rows, width)
    assert drawn > 300  # most of them fit: the comparison covered plenty


@pytest.mark.parametrize("terminal", [False, True])
def test_a_table_exactly_as_wide_as_the_console_is_drawn_and_one_wider_is_left_to_rich(
    terminal: bool,
) -> None:
    columns, rows = ["Name", "Type"], [["nightly", "process"], ["", "x"]]
    natural = len(drawn_by_rich(columns, rows, 240, False).splitlines()[0])
    assert render(columns, rows, natural, terminal) == drawn_by_rich(
        columns, rows, natural, terminal
    )
    assert render(columns, rows, natural - 1, terminal) is None
    assert render(columns, [], 80, terminal) == drawn_by_rich(columns, [], 80, terminal)


@pytest.mark.parametrize(
    "cell", ["[bold]x", "a:smile:", "back\\slash", "日本", "émigré", "tab\there"]
)
def test_cells_rich_would_interpret_are_left_to_rich(cell: str) -> None:
    assert render(["Name"], [[cell]], 240, False) is None
