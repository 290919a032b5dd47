"""How a CLI command fails: one line on stderr and an exit code, never a traceback.

A module of its own so that the entry point can fail without importing rich and pydantic.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit: errors never show a traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
