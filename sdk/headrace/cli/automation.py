"""`headrace automation ...`: triggers over events and the actions they run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.client import automations
from headrace.client.transport import detail_text
from headrace.schemas.automations import (
    Automation,
    AutomationCreate,
    AutomationQuery,
    AutomationUpdate,
)

app = typer.Typer(help=group_help("automation"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[
    str, typer.Argument(help="The automation's name (or id).", show_default=False)
]
FileOption = Annotated[
    Path,
    typer.Option(
        "--from-file",
        "-f",
        help="A JSON file with the definition (docs/automations.md).",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]
MAX_FILE_BYTES = 1_000_000
M = TypeVar("M", bound=BaseModel)


def read_definition(path: Path, model: type[M]) -> M:
    """The file's JSON as `model`; one-line errors naming the file and the field."""
    if path.stat().st_size > MAX_FILE_BYTES:
        fail(f"{path}: over {MAX_FILE_BYTES} bytes; an automation is a small JSON document")
    try:
        data: Any = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        fail(f"{path}: not valid JSON: {error}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fail(f"{path}: {detail_text(error.errors(include_url=False))}")


def trigger_text(automation: Automation) -> str:
    return describe_trigger(automation.trigger)


def describe_trigger(trigger: dict[str, Any]) -> str:
    if trigger.get("type") == "compound":
        parts = [describe_trigger(t) for t in trigger.get("triggers", [])]
        return f"{trigger.get('require', 'all')} of: " + "; ".join(parts)
    if trigger.get("type") == "sequence":
        parts = [describe_trigger(t) for t in trigger.get("triggers", [])]
        return "in order: " + ", then ".join(parts)
    names = ", ".join(trigger.get("expect") or ["any event"])
    if trigger.get("posture") == "Proactive":
        after = ", ".join(trigger.get("after") or ["the start"])
        return f"no {names} within {trigger.get('within')}s after {after}"
    threshold = trigger.get("threshold", 1)
    within = f" within {trigger.get('within')}s" if trigger.get("within") else ""
    return f"{names}" + (f" x{threshold}{within}" if threshold > 1 else "")


@app.command("ls")
def ls(
    as_json: JsonOption = False,
    contains: Annotated[
        str | None, typer.Option("--contains", help="Only names containing this.")
    ] = None,
) -> None:
    """List automations by name."""
    with api() as client:
        found = automations.list_automations(client, AutomationQuery(name_contains=contains))
    if as_json:
        print_json(found)
        return
    table(
        ["Name", "Enabled", "Trigger", "Actions"],
        [
            (
                a.name,
                "yes" if a.enabled else "paused",
                trigger_text(a),
                ", ".join(str(x.get("type")) for x in a.actions),
            )
            for a in found
        ],
    )


@app.command("inspect")
def inspect(name: NameArgument, as_json: JsonOption = False) -> None:
    """Show an automation's definition and its recent firings."""
    with api() as client:
        found = automations.read(client, name)
        recent = automations.firings(client, name, limit=10)
    if as_json:
        print_json(
            {
                **found.model_dump(mode="json"),
                "firings": [f.model_dump(mode="json") for f in recent],
            }
        )
        return
    state = "enabled" if found.enabled else "paused"
    console.print(f"Automation {found.name!r} ({state}), id {found.id}")
    typer.echo(json.dumps({"trigger": found.trigger, "actions": found.actions}, indent=2))
    if not recent:
        console.print("No firings yet.")
        return
    table(
        ["Fired", "Event", "Actions"],
        [
            (
                f.fired,
                (f.event or {}).get("event", "(no event: time ran out)"),
                "; ".join(
                    f"{a.type} {a.status}" + (f": {a.reason}" if a.reason else "")
                    for a in f.actions
                ),
            )
            for f in recent
        ],
    )


@app.command("create")
def create(from_file: FileOption) -> None:
    """Create an automation from a JSON file."""
    body = read_definition(from_file, AutomationCreate)
    with api() as client:
        made = automations.create(client, body)
    console.print(f"Created automation {made.name!r} ({made.id})")


@app.command("update")
def update(name: NameArgument, from_file: FileOption) -> None:
    """Change an automation: the fields the JSON file gives replace the current ones."""
    body = read_definition(from_file, AutomationUpdate)
    with api() as client:
        changed = automations.update(client, name, body)
    console.print(f"Updated automation {changed.name!r}")


def _set_enabled(name: str, enabled: bool) -> None:
    with api() as client:
        changed = automations.update(client, name, AutomationUpdate(enabled=enabled))
    console.print(f"{'Resumed' if enabled else 'Paused'} automation {changed.name!r}")


@app.command("pause")
def pause(name: NameArgument) -> None:
    """Stop an automation from firing (its definition stays)."""
    _set_enabled(name, False)


@app.command("resume")
def resume(name: NameArgument) -> None:
    """Let a paused automation fire again."""
    _set_enabled(name, True)


@app.command("delete")
def delete(name: NameArgument) -> None:
    """Delete an automation and its firings."""
    with api() as client:
        automations.delete(client, name)
    console.print(f"Deleted automation {name!r}")
