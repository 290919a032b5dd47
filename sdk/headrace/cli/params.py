"""`--param key=value` options: the value is read as JSON when it parses (3, true, [1,2]),
else kept as a string (2026-11-24), so a user rarely needs to quote anything."""

from __future__ import annotations

import json
from typing import Any

from headrace.cli.output import fail


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`["day=2026-11-24", "n=3"]` -> `{"day": "2026-11-24", "n": 3}`; a bad pair exits 2."""
    parameters: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"--param {pair!r}: expected key=value, e.g. --param day=2026-11-24")
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return parameters
