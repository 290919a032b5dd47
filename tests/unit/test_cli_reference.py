"""docs/cli.md is generated from the `headrace` CLI and must be up to date."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from headrace.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python docs/generate_cli_reference.py > docs/cli.md"


def test_every_command_the_cli_lists_has_a_section() -> None:
    """Checked against what `--help` lists, not the generator's own walk of the app."""
    page = (ROOT / "docs" / "cli.md").read_text()
    headings = set(re.findall(r"^## (headrace .+)$", page, re.MULTILINE))

    runner = CliRunner()

    def listed(*path: str) -> list[str]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        text = result.output
        section = text.split("Commands", 1)[1] if "Commands" in text else ""
        return re.findall(r"^│ (\S+) ", section, re.MULTILINE)

    for group in listed():
        subcommands = listed(group)
        if not subcommands:
            assert f"headrace {group}" in headings, group
        for sub in subcommands:
            nested = listed(group, sub)
            names = [f"headrace {group} {sub} {n}" for n in nested] or [f"headrace {group} {sub}"]
            missing = [name for name in names if name not in headings]
            assert not missing, f"{missing} not in docs/cli.md; run: {REGENERATE}"
