"""Print docs/cli.md from the `headrace` typer app: every command, its arguments and options.

`python docs/generate_cli_reference.py > docs/cli.md`; tests/unit/test_generated_docs.py fails
when docs/cli.md is not what this prints, so edit the `help=` of the command, not the page.
Each option's line is the one `headrace COMMAND --help` prints (typer's own help record).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

from headrace.cli.main import app

HEADER = """# CLI reference

Every `headrace` command with its arguments and options, as `headrace COMMAND --help` prints
them. Generated from the CLI by `python docs/generate_cli_reference.py > docs/cli.md` (a test
fails when it is out of date). Commands that talk to the API read `HEADRACE_API_URL` and
`HEADRACE_API_KEY`, or the active profile ([settings.md](settings.md)); a refused command (a bad
argument or option, an error from the API) prints one line starting with `error:` and exits
with code 2. Names of work pools, queues, deployments and tags are checked before anything is
sent, with the API's rule: 1 to 200 characters, no `/`, not `.` or `..`, no control characters.
"""


def commands(group: TyperGroup, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Every leaf command under `group`, depth first, in the order `--help` lists them."""
    context = group.context_class(group, info_name=path[-1])
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, TyperGroup):
            yield from commands(command, [*path, name])
        else:
            yield [*path, name], command


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def command_section(path: list[str], command: Any) -> str:
    name = " ".join(path)
    context = command.context_class(command, info_name=name)
    lines = [f"## {name}", ""]
    if command.help:
        lines += [inspect.cleandoc(command.help), ""]
    lines += ["```", " ".join([name, *command.collect_usage_pieces(context)]), "```", ""]
    records = [p.get_help_record(context) for p in command.params if not p.hidden]
    records = [r for r in records if r is not None]
    if records:
        lines += ["| Argument or option | Description |", "| --- | --- |"]
        lines += [f"| `{cell(names)}` | {cell(help_text)} |" for names, help_text in records]
        lines.append("")
    return "\n".join(lines)


def anchor(path: list[str]) -> str:
    """The anchor GitHub gives a heading: `## headrace flow-run ls` -> #headrace-flow-run-ls."""
    return "-".join(path)


def cli_markdown() -> str:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    found = list(commands(root, ["headrace"]))
    index = ["| Command | What it does |", "| --- | --- |"]
    for path, command in found:
        summary = cell(inspect.cleandoc(command.help or "").split("\n\n")[0])
        index.append(f"| [`{' '.join(path)}`](#{anchor(path)}) | {summary} |")
    sections = [command_section(path, command) for path, command in found]
    return "\n".join([HEADER, *index, "", *sections]).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(cli_markdown(), end="")
