"""`headrace --help` lists the groups from their help lines without importing their modules."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from headrace.cli.main import _app_for, build_app


def test_the_listing_says_what_the_whole_command_says() -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    whole = runner.invoke(build_app(), ["--help"], env=env)
    listing = runner.invoke(_app_for(["--help"]), ["--help"], env=env)
    assert whole.exit_code == listing.exit_code == 0
    assert listing.output == whole.output


def test_the_listing_imports_no_group_module() -> None:
    probe = (
        "import sys; sys.argv = ['headrace', '--help']\n"
        "from headrace.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in sys.modules if m.startswith('headrace.cli.') "
        "and m not in ('headrace.cli.main', 'headrace.cli.groups', 'headrace.cli.exits',"
        " 'headrace.cli.quick')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "work-pool" in done.stdout  # the listing itself was printed
    assert done.stdout.strip().splitlines()[-1] == "[]"
