"""`headrace --help` lists the groups from their help lines without importing their modules,
and the quick help (without typer and rich) prints what typer prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headrace.cli.main import _app_for, build_app
from tests.cli_probe import imported_by, under
from tests.terminal import on_a_terminal

# With this (typer's default, so its help is unchanged), `headrace --help` is left to typer:
# what the quick help is compared with.
TYPER_HELP = {"TYPER_USE_RICH": "1"}
SCRIPT = str(Path(sys.executable).with_name("headrace"))  # the installed entry point


def test_the_listing_says_what_the_whole_command_says() -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    whole = runner.invoke(build_app(), ["--help"], env=env)
    listing = runner.invoke(_app_for(["--help"]), ["--help"], env=env)
    assert whole.exit_code == listing.exit_code == 0
    assert listing.output == whole.output


@pytest.mark.parametrize("by_typer", [False, True])
def test_the_listing_imports_no_group_module(by_typer: bool) -> None:
    env = {**os.environ, **(TYPER_HELP if by_typer else {})}
    printed, modules = imported_by(["--help"], env)
    assert "work-pool" in printed  # the listing itself was printed
    allowed = ("headrace.cli.main", "headrace.cli.groups", "headrace.cli.exits")
    assert [
        name
        for name in under(modules, "headrace")
        if name.startswith("headrace.cli.")
        and name not in allowed
        and not name.startswith("headrace.cli.quick")
    ] == []
    assert (under(modules, "typer", "rich") != []) == by_typer


def help_on_a_pipe(command: list[str], columns: int, **env: str) -> str:
    variables = {**os.environ, "COLUMNS": str(columns), **env}
    done = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, env=variables, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", [[SCRIPT], [sys.executable, "-m", "headrace.cli.main"]])
def test_the_quick_help_is_typers_on_a_pipe_and_on_a_terminal(command: list[str]) -> None:
    for columns in (66, 80, 81, 120, 250):
        quick = help_on_a_pipe(command, columns)
        assert quick == help_on_a_pipe(command, columns, **TYPER_HELP), columns
        assert " Usage: " in quick and "work-pool" in quick
        quick_terminal = on_a_terminal([*command, "--help"], dict(os.environ), columns)
        typer_terminal = on_a_terminal([*command, "--help"], {**os.environ, **TYPER_HELP}, columns)
        assert quick_terminal == typer_terminal, columns
        assert b"\x1b[1;36mwork-pool" in quick_terminal  # typer's styles, in a terminal
