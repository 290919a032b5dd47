"""Arguments and options shared by commands.

`--param key=value`: the value is read as JSON when it parses (3, true, [1,2]), else kept as a
string (2026-11-24), so a user rarely needs to quote anything. Names of work pools, queues,
deployments and tags: the API's rule (headrace.schemas), checked before anything is sent."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from headrace.cli.exits import fail
from headrace.schemas.common import check_resource_name


def parse_params(pairs: list[str] | None, option: str = "--param") -> dict[str, Any]:
    """`["day=2026-11-24", "n=3"]` -> `{"day": "2026-11-24", "n": 3}`; a bad pair exits 2."""
    parameters: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"{option} {pair!r}: expected key=value, e.g. {option} day=2026-11-24")
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return parameters


def resource_name(value: str | None) -> str | None:
    """A typer callback: the name as the API would store it, or the API's message about it."""
    if value is None:
        return None
    try:
        return check_resource_name(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


PoolNameArgument = Annotated[
    str, typer.Argument(help="The work pool's name.", callback=resource_name, show_default=False)
]
