"""`headrace server api-key create`: make a key straight in the database, without a key.

This is how an operator makes the first admin key: whoever can reach the database (its URL, or
the embedded one in HEADRACE_HOME) owns the server anyway, so no API key is asked for.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from headrace.cli.api_key import ExpiresOption, JsonOption, key_request, print_created
from headrace.cli.exits import fail
from headrace.cli.server_settings import load_server_settings
from headrace.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, Scope

app = typer.Typer(
    help="Create API keys directly in the database (to bootstrap the first admin key).",
    no_args_is_help=True,
)

SERVER_EXTRA = "this command needs the [server] extra: pip install 'headrace[server]'"


@app.command("create")
def create(
    name: str,
    scope: Annotated[Scope, typer.Option(help="read, worker or admin.")] = Scope.ADMIN,
    expires_in: ExpiresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key in the configured database (HEADRACE_DATABASE_URL or the embedded one)."""
    body = key_request(name, scope, expires_in)
    try:
        from headrace_service import migrations
        from headrace_service.errors import StartupError
        from headrace_service.server import database
    except ImportError:
        fail(SERVER_EXTRA)
    try:
        with database(load_server_settings()) as url:
            migrations.upgrade(url)
            created = asyncio.run(_create(url, body))
    except StartupError as error:
        fail(str(error))
    print_created(created, as_json)


async def _create(url: str, body: ApiKeyCreate) -> ApiKeyCreated:
    from headrace_service.auth import create_api_key
    from headrace_service.db import create_engine

    engine = create_engine(url, pool_size=1, pool_timeout=10)
    try:
        async with engine.begin() as conn:
            row, key = await create_api_key(
                conn, name=body.name, scope=body.scope, expires_in_seconds=body.expires_in_seconds
            )
    finally:
        await engine.dispose()
    return ApiKeyCreated.model_validate({**row, "key": key})
