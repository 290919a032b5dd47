"""Quick commands: `headrace --help` and the hot read commands, answered without typer, rich,
httpx and pydantic.

A command line that is exactly one of them is tried here first. A quick command prints only
what the typed command would print, byte for byte, and only when that is certain; in every other
case (settings to interpret, an error, a table rich would fold, ...) it prints nothing and the
typed command runs as if it had not been tried.
"""

from __future__ import annotations

import sys


def answered(argv: list[str]) -> bool:
    """Whether a quick command printed the answer to `argv`."""
    text: str | None
    if argv == ["--help"]:
        from headrace.cli.quick import help

        text = help.text()
    elif argv == ["work-pool", "ls"]:
        from headrace.cli.quick.work_pools import ls

        text = ls()
    else:
        return False
    if text is None:
        return False
    sys.stdout.write(text)
    return True
