"""`headrace event ...`: list, emit and follow events."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.output import print_json, table
from headrace.client import events
from headrace.schemas.events import (
    RESOURCE_ID,
    RESOURCE_ROLE,
    Event,
    EventBatch,
    EventCreate,
    EventQuery,
    EventStreamQuery,
)

Q = TypeVar("Q", EventQuery, EventStreamQuery)

app = typer.Typer(help="Events: what runs, deployments and your code did.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameOption = Annotated[str | None, typer.Option("--name", help="Only names with this prefix.")]
ResourceOption = Annotated[
    str | None, typer.Option("--resource", help="Only events about this resource id.")
]
LabelOption = Annotated[
    str | None, typer.Option("--label", help="Only resources with this label: key=value.")
]
RelatedOption = Annotated[
    str | None, typer.Option("--related", help="Only events with this related resource id.")
]


def _filter(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


@app.command("ls")
def ls(
    name: NameOption = None,
    resource: ResourceOption = None,
    label: LabelOption = None,
    related: RelatedOption = None,
    # Text, read by the query model: ISO 8601 with `Z` or an offset, as the API takes it.
    since: Annotated[
        str | None, typer.Option("--since", help="Occurred at or after (ISO 8601 time).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Occurred before (ISO 8601 time).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many at most.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List events, newest first."""
    query = _query(
        EventQuery,
        _filter(
            name=name,
            resource=resource,
            label=label,
            related=related,
            since=since,
            until=until,
            limit=limit,
        ),
    )
    with api() as client:
        page = events.read_page(client, query)
    if as_json:
        print_json(page.items)
        return
    table(
        ["Occurred", "Event", "Resource", "Payload"],
        [
            (e.occurred, e.event, e.resource[RESOURCE_ID], _short(json.dumps(e.payload)))
            for e in page.items
        ],
    )


@app.command("emit")
def emit(
    name: Annotated[str, typer.Argument(help="The event's name, e.g. my.table.refreshed.")],
    resource_id: Annotated[
        str, typer.Option("--resource-id", help="The id of the resource it is about.")
    ],
    label: Annotated[
        list[str] | None, typer.Option("--label", help="A resource label key=value (repeatable).")
    ] = None,
    related_id: Annotated[
        list[str] | None, typer.Option("--related-id", help="A related resource id (repeatable).")
    ] = None,
    payload: Annotated[str | None, typer.Option("--payload", help="A JSON object.")] = None,
) -> None:
    """Emit one event (sent at once; prints its id)."""
    labels = {RESOURCE_ID: resource_id}
    for pair in label or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--label: give key=value, not {pair[:100]!r}")
        labels[key] = value
    body: Any = {}
    if payload is not None:
        try:
            body = json.loads(payload)
        except ValueError as error:
            fail(f"--payload: not JSON: {error}")
        if not isinstance(body, dict):
            fail("--payload: give a JSON object, e.g. '{\"rows\": 12}'")
    try:
        event = EventCreate(
            event=name,
            resource=labels,
            related=[{RESOURCE_ID: r, RESOURCE_ROLE: "related"} for r in related_id or []],
            payload=body,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"{where}: {first['msg']}")
    with api() as client:
        events.write(client, EventBatch(events=[event]))
    typer.echo(str(event.id))


@app.command("stream")
def stream(
    name: NameOption = None,
    resource: ResourceOption = None,
    label: LabelOption = None,
    related: RelatedOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Print events as they are stored, until Ctrl-C."""
    query = _query(
        EventStreamQuery, _filter(name=name, resource=resource, label=label, related=related)
    )

    def connected() -> None:
        print("Streaming events (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        with api() as client:
            for event in events.stream(client, query, on_connected=connected):
                typer.echo(event.model_dump_json() if as_json else _line(event))
                sys.stdout.flush()
    except KeyboardInterrupt:
        raise SystemExit(0) from None


def _query(model: type[Q], given: dict[str, Any]) -> Q:
    try:
        return model.model_validate(given)
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"--{first['loc'][0]}: {first['msg']}")


def _line(event: Event) -> str:
    payload = json.dumps(event.payload, separators=(",", ":")) if event.payload else ""
    when = f"{event.occurred:%Y-%m-%d %H:%M:%S}"
    return f"{when}  {event.event}  {event.resource[RESOURCE_ID]}  {payload}".rstrip()


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
