"""`headrace global-concurrency-limit ...` (alias `gcl`): named limits that `concurrency(...)`
and `rate_limit(...)` take slots of."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import resource_name
from headrace.client import global_concurrency
from headrace.schemas.global_concurrency import GlobalLimit, GlobalLimitCreate, GlobalLimitUpdate

app = typer.Typer(
    help=group_help("global-concurrency-limit"),
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[
    str, typer.Argument(help="The limit's name.", callback=resource_name, show_default=False)
]
DecayOption = Annotated[
    float | None,
    typer.Option(
        "--slot-decay-per-second",
        min=0,
        help="Slots given back per second after `rate_limit` takes them (> 0 makes a rate limit).",
    ),
]


def _say(limit: GlobalLimit) -> None:
    state = "enabled" if limit.active else "disabled"
    decay = (
        f", {limit.slot_decay_per_second:g} slot(s)/s decay" if limit.slot_decay_per_second else ""
    )
    console.print(f"Global concurrency limit {limit.name!r}: {limit.limit} slots{decay}, {state}")


@app.command("create")
def create(
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", min=0, help="How many slots the limit has.")],
    slot_decay_per_second: DecayOption = None,
    disable: Annotated[bool, typer.Option("--disable", help="Create it disabled.")] = False,
) -> None:
    """Create a global concurrency limit."""
    body = GlobalLimitCreate(
        name=name,
        limit=limit,
        active=not disable,
        slot_decay_per_second=slot_decay_per_second or 0.0,
    )
    with api() as client:
        _say(global_concurrency.create_limit(client, body))


@app.command("ls")
def ls(as_json: JsonOption = False) -> None:
    """List global limits with their slots in use and holders waiting."""
    with api() as client:
        limits = global_concurrency.list_limits(client)
    if as_json:
        print_json(limits)
        return
    table(
        ["Name", "Limit", "Active slots", "Waiting", "Decay/s", "Enabled"],
        [
            (x.name, x.limit, x.active_slots, x.waiting, x.slot_decay_per_second, x.active)
            for x in limits
        ],
    )


@app.command("inspect")
def inspect(name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a limit and who holds its slots."""
    with api() as client:
        detail = global_concurrency.read_limit(client, name)
    if as_json:
        print_json(detail)
        return
    _say(detail)
    console.print(f"{detail.active_slots} slot(s) taken, {detail.waiting} holder(s) waiting")
    table(
        ["Holder", "Slots", "Expires", "Since"],
        [(s.holder_id, s.occupy, s.expires_at, s.created) for s in detail.slots],
    )


@app.command("update")
def update(
    name: NameArgument,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="New number of slots.")
    ] = None,
    slot_decay_per_second: DecayOption = None,
) -> None:
    """Change a limit's size or decay."""
    body = GlobalLimitUpdate()
    if limit is not None:
        body.limit = limit
    if slot_decay_per_second is not None:
        body.slot_decay_per_second = slot_decay_per_second
    _update(name, body)


@app.command("enable")
def enable(name: NameArgument) -> None:
    """Enable a limit (its slots are taken again)."""
    _update(name, GlobalLimitUpdate(active=True))


@app.command("disable")
def disable(name: NameArgument) -> None:
    """Disable a limit (code that asks for its slots runs without waiting)."""
    _update(name, GlobalLimitUpdate(active=False))


@app.command("delete")
def delete(name: NameArgument) -> None:
    """Delete a limit."""
    with api() as client:
        global_concurrency.delete_limit(client, name)
    console.print(f"Deleted global concurrency limit {name!r}")


def _update(name: str, body: GlobalLimitUpdate) -> None:
    with api() as client:
        _say(global_concurrency.update_limit(client, name, body))
