"""`headrace artifact ...`: what runs published (reports, tables, links, progress, images)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.client import artifacts
from headrace.schemas.artifacts import Artifact, ArtifactQuery, check_key

app = typer.Typer(help=group_help("artifact"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="How many at most.")]


def artifact_key(value: str | None) -> str | None:
    """A typer callback: the key as the API checks it."""
    if value is None:
        return None
    try:
        return check_key(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


KeyArgument = Annotated[
    str, typer.Argument(help="The artifact key.", callback=artifact_key, show_default=False)
]


@app.command("ls")
def ls(
    as_json: JsonOption = False,
    all_versions: Annotated[
        bool, typer.Option("--all", help="Every artifact, not only the latest of each key.")
    ] = False,
    flow_run: Annotated[
        uuid.UUID | None, typer.Option("--flow-run", help="Only those of this flow run (id).")
    ] = None,
    limit: LimitOption = 100,
) -> None:
    """List the latest artifact of each key (--all: every artifact), newest first."""
    query = ArtifactQuery(flow_run_id=flow_run, latest=not all_versions, limit=limit)
    with api() as client:
        found = artifacts.list_artifacts(client, query)
    if as_json:
        print_json(found)
        return
    _table(found)


@app.command("inspect")
def inspect(key: KeyArgument, as_json: JsonOption = False, limit: LimitOption = 10) -> None:
    """Show the artifacts under a key, latest first, with their data."""
    with api() as client:
        found = artifacts.list_artifacts(client, ArtifactQuery(key=key, limit=limit))
    if not found:
        fail(f"no artifact with key {key!r}")
    if as_json:
        print_json(found)
        return
    for artifact in found:
        console.print(
            f"[bold]{artifact.key}[/bold] {artifact.type} {artifact.id} "
            f"created {artifact.created:%Y-%m-%d %H:%M:%S}"
            + (f" by flow run {artifact.flow_run_id}" if artifact.flow_run_id else "")
        )
        if artifact.description:
            console.print(artifact.description, markup=False)
        data = artifact.data
        typer.echo(data if isinstance(data, str) else json.dumps(data, indent=2))


@app.command("delete")
def delete(
    key: Annotated[
        str | None,
        typer.Argument(
            help="Delete every artifact under this key.",
            callback=artifact_key,
            show_default=False,
        ),
    ] = None,
    artifact_id: Annotated[
        uuid.UUID | None, typer.Option("--id", help="Delete only this artifact.")
    ] = None,
) -> None:
    """Delete a key's artifacts (its whole history), or one artifact with --id."""
    if (key is None) == (artifact_id is None):
        fail("give either a KEY or --id ID")
    with api() as client:
        if artifact_id is not None:
            artifacts.delete(client, artifact_id)
            console.print(f"Deleted artifact {artifact_id}")
        else:
            assert key is not None
            artifacts.delete_key(client, key)
            console.print(f"Deleted the artifacts with key {key!r}")


def _table(found: list[Artifact]) -> None:
    table(
        ["Key", "Type", "Created", "Flow run", "Description", "Id"],
        [
            (a.key or "", a.type, a.created, a.flow_run_id, (a.description or "")[:60], a.id)
            for a in found
        ],
    )
