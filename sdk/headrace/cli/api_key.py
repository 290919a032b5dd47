"""`headrace api-key ...`: create, list and revoke API keys through the API (admin key needed)."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from pydantic import ValidationError

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import print_json, table
from headrace.client import api_keys
from headrace.schemas.api_keys import (
    MAX_EXPIRES_IN_SECONDS,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyQuery,
    Scope,
)

app = typer.Typer(help=group_help("api-key"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ScopeOption = Annotated[
    Scope, typer.Option(help="read: reads only; worker: runs flows; admin: everything.")
]
ExpiresOption = Annotated[
    str | None, typer.Option(help="Lifetime, e.g. 90m, 12h, 30d, 52w (default: never expires).")
]

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> int:
    """`30d` -> seconds; a one-line error (exit 2) for anything else."""
    match = DURATION.match(text)
    if match is None:
        fail(f"--expires-in: expected a number and a unit (s, m, h, d, w), e.g. 30d; got {text!r}")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if not 60 <= seconds <= MAX_EXPIRES_IN_SECONDS:
        fail("--expires-in: must be between 1 minute and 10 years")
    return seconds


def key_request(name: str, scope: Scope, expires_in: str | None) -> ApiKeyCreate:
    """The creation request, checked here so a bad name is a one-line error."""
    seconds = parse_duration(expires_in) if expires_in else None
    try:
        return ApiKeyCreate(name=name, scope=scope, expires_in_seconds=seconds)
    except ValidationError as error:
        fail(f"NAME: {error.errors(include_url=False)[0]['msg']}")


def print_created(created: ApiKeyCreated, as_json: bool) -> None:
    """The one time the key is shown: on stdout alone, so `$(headrace api-key create ...)` works."""
    if as_json:
        print_json(created)
        return
    print(created.key)
    expiry = f", expires {created.expires_at:%Y-%m-%d %H:%M %Z}" if created.expires_at else ""
    typer.echo(
        f"created API key {created.name!r} ({created.scope.value}{expiry}, id {created.id}); "
        "it is shown only now: store it in a secret manager or HEADRACE_API_KEY",
        err=True,
    )


def print_keys(keys: list[ApiKey], as_json: bool) -> None:
    if as_json:
        print_json(keys)
        return
    table(
        ["ID", "Name", "Scope", "Created", "Expires", "Last used", "Revoked"],
        [
            (k.id, k.name, k.scope.value, k.created, k.expires_at, k.last_used, k.revoked_at)
            for k in keys
        ],
    )


@app.command("create")
def create(
    name: str,
    scope: ScopeOption = Scope.READ,
    expires_in: ExpiresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key and print it once (it is stored only as a hash)."""
    body = key_request(name, scope, expires_in)
    with api() as client:
        created = api_keys.create(client, body)
    print_created(created, as_json)


@app.command("ls")
def ls(
    include_revoked: Annotated[bool, typer.Option("--all", help="Show revoked keys too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List API keys (never the keys themselves)."""
    with api() as client:
        page = api_keys.list_keys(client, ApiKeyQuery(include_revoked=include_revoked, limit=500))
    print_keys(page.items, as_json)


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke an API key by id: it stops working at once."""
    with api() as client:
        key = api_keys.revoke(client, key_id)
    print(f"revoked API key {key.name!r} ({key.id})")
