"""The pages generated from the code (settings, CLI and REST references, the state machine) must
be up to date.

Each generator runs in a subprocess with no HEADRACE_* variables (the page shows defaults, never
this machine's) and, for the CLI, at two terminal widths (the page must not depend on it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PAGES = {
    "settings.md": "generate_settings.py",
    "cli.md": "generate_cli_reference.py",
    "rest-api.md": "generate_rest_reference.py",
    "state-machine.md": "generate_state_machine.py",
}


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("columns", ["80", "200"])
def test_the_page_is_what_its_generator_prints(page: str, columns: str) -> None:
    generator = PAGES[page]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    generated = subprocess.run(
        [sys.executable, str(ROOT / "docs" / generator)],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": columns},
        check=True,
        timeout=60,
    ).stdout
    on_disk = (ROOT / "docs" / page).read_text()
    assert generated == on_disk, (
        f"docs/{page} is out of date; run: python docs/{generator} > docs/{page}"
    )
