"""`headrace variable ...`: named JSON values that flows read and deployments template."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import resource_name
from headrace.client import variables
from headrace.errors import Conflict
from headrace.schemas.variables import VariableCreate, VariableQuery, VariableSet

app = typer.Typer(help=group_help("variable"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[
    str, typer.Argument(help="The variable's name.", callback=resource_name, show_default=False)
]


def parse_value(raw: str) -> Any:
    """JSON when it parses (3, true, [1, 2], {"a": 1}), else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def value_text(value: Any) -> str:
    """A string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


@app.command("set")
def set_(
    name: NameArgument,
    value: Annotated[str, typer.Argument(help="The value: JSON if it parses, else text.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the variable if it exists.")
    ] = False,
) -> None:
    """Create a variable (or replace it with --overwrite)."""
    parsed = parse_value(value)
    with api() as client:
        if overwrite:
            stored = variables.set_variable(client, name, VariableSet(value=parsed, tags=tag or []))
        else:
            try:
                stored = variables.create(
                    client, VariableCreate(name=name, value=parsed, tags=tag or [])
                )
            except Conflict:
                fail(f"variable {name!r} already exists; pass --overwrite to replace it")
    console.print(f"Set variable {stored.name!r}")


@app.command("get")
def get(name: NameArgument, as_json: JsonOption = False) -> None:
    """Print a variable's value (text as is, anything else as JSON)."""
    with api() as client:
        found = variables.read(client, name)
    if as_json:
        print_json(found.value)
        return
    typer.echo(value_text(found.value))


@app.command("ls")
def ls(
    as_json: JsonOption = False,
    contains: Annotated[
        str | None, typer.Option("--contains", help="Only names containing this.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only variables with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many at most.")] = 200,
) -> None:
    """List variables by name."""
    with api() as client:
        found = variables.list_variables(
            client, VariableQuery(name_contains=contains, tag=tag, limit=limit)
        )
    if as_json:
        print_json(found)
        return
    table(
        ["Name", "Value", "Tags", "Updated"],
        [(v.name, _short(value_text(v.value)), ", ".join(v.tags), v.updated) for v in found],
    )


@app.command("inspect")
def inspect(name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a variable: value, tags, times."""
    with api() as client:
        found = variables.read(client, name)
    if as_json:
        print_json(found)
        return
    console.print(f"Variable {found.name!r} (tags: {', '.join(found.tags) or 'none'})")
    console.print(
        f"Created {found.created:%Y-%m-%d %H:%M:%S}, updated {found.updated:%Y-%m-%d %H:%M:%S}"
    )
    typer.echo(json.dumps(found.value, indent=2))


@app.command("unset")
def unset(name: NameArgument) -> None:
    """Delete a variable."""
    with api() as client:
        variables.delete(client, name)
    console.print(f"Deleted variable {name!r}")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
