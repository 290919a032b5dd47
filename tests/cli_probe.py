"""Running `headrace ARGS` in a fresh interpreter, to see which modules the command imported."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
sys.argv = ["headrace", *json.loads(sys.argv[1])]
from headrace.cli.main import main
try:
    main()
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(sys.modules)))
"""


def imported_by(args: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """What `headrace ARGS` printed, and the names of every module loaded when it was done."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    printed, _, modules = done.stdout.rpartition("\n[")
    assert modules, done.stderr
    return printed, json.loads("[" + modules)


def under(modules: list[str], *packages: str) -> list[str]:
    """The modules of `packages` (top-level package names) among `modules`."""
    return [name for name in modules if name.split(".")[0] in packages]
