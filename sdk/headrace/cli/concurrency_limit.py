"""`headrace concurrency-limit ...`: limits on how many task runs with a tag run at once."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import resource_name
from headrace.client import concurrency
from headrace.schemas.concurrency import ConcurrencyLimitCreate

app = typer.Typer(help=group_help("concurrency-limit"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TagArgument = Annotated[
    str, typer.Argument(help="The tag to limit.", callback=resource_name, show_default=False)
]


@app.command("create")
def create(
    tag: TagArgument,
    limit: Annotated[int, typer.Argument(min=0, help="Task runs with this tag at once.")],
) -> None:
    """Create the limit of a tag (or change it)."""
    with api() as client:
        created = concurrency.create_limit(client, ConcurrencyLimitCreate(tag=tag, limit=limit))
    console.print(f"Concurrency limit of tag {created.tag!r}: {created.limit}")


@app.command("ls")
def ls(as_json: JsonOption = False) -> None:
    """List tag limits and how many slots are taken."""
    with api() as client:
        limits = concurrency.list_limits(client)
    if as_json:
        print_json(limits)
        return
    table(["Tag", "Limit", "Active slots"], [(x.tag, x.limit, x.active_slots) for x in limits])


@app.command("inspect")
def inspect(tag: TagArgument, as_json: JsonOption = False) -> None:
    """Show a tag's limit and the task runs holding its slots."""
    with api() as client:
        detail = concurrency.read_limit(client, tag)
    if as_json:
        print_json(detail)
        return
    console.print(f"Tag {detail.tag!r}: {detail.active_slots} of {detail.limit} slots taken")
    table(
        ["Holder (task run)", "Lease expires", "Since"],
        [(s.holder_id, s.lease_expires_at, s.created) for s in detail.slots],
    )


@app.command("delete")
def delete(tag: TagArgument) -> None:
    """Remove a tag's limit."""
    with api() as client:
        concurrency.delete_limit(client, tag)
    console.print(f"Deleted the concurrency limit of tag {tag!r}")


@app.command("reset")
def reset(tag: TagArgument) -> None:
    """Free every slot of a tag's limit (e.g. after holders were killed)."""
    with api() as client:
        freed = concurrency.reset_limit(client, tag)
    console.print(f"Freed {freed.count} slot(s) of tag {tag!r}")
