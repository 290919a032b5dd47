"""`headrace server ...`: run the API server and manage its database."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from headrace.cli import server_api_key
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.server_settings import load_server_settings

app = typer.Typer(help=group_help("server"), no_args_is_help=True)
database_app = typer.Typer(help="Manage the server's database schema.", no_args_is_help=True)
app.add_typer(database_app, name="database")
app.add_typer(server_api_key.app, name="api-key")


class LogLevelChoice(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


SERVER_EXTRA = "the server needs the [server] extra: pip install 'headrace[server]'"


@app.command("start")
def start(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port to listen on (default 4200).")
    ] = None,
    auth: Annotated[
        bool | None,
        typer.Option("--auth/--no-auth", help="Require API keys (HEADRACE_AUTH_ENABLED)."),
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host without auth (unsafe).")
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            help="Serve https with this certificate chain, PEM (HEADRACE_TLS_CERT_FILE).",
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key", help="The certificate's private key, PEM (HEADRACE_TLS_KEY_FILE)."
        ),
    ] = None,
    log_level: Annotated[
        LogLevelChoice | None,
        typer.Option(
            case_sensitive=False,
            help="Console detail (HEADRACE_LOG_LEVEL, default info): debug adds every request "
            "and every background-loop pass.",
        ),
    ] = None,
) -> None:
    """Start the API and the dashboard (embedded PostgreSQL unless HEADRACE_DATABASE_URL)."""
    try:
        from headrace_service.errors import StartupError
        from headrace_service.server import serve
    except ImportError:
        fail(SERVER_EXTRA)
    given = {
        "host": host,
        "port": port,
        "auth_enabled": auth,
        # Unset rather than False, so HEADRACE_INSECURE_NO_AUTH still applies.
        "insecure_no_auth": insecure_no_auth or None,
        "tls_cert_file": tls_cert,
        "tls_key_file": tls_key,
        "log_level": log_level.value if log_level else None,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    settings = load_server_settings(**overrides)
    try:
        serve(settings)
    except StartupError as error:
        fail(str(error))


@database_app.command("upgrade")
def upgrade() -> None:
    """Apply all migrations to the configured database (or the embedded one)."""
    try:
        from headrace_service import migrations
        from headrace_service.errors import StartupError
        from headrace_service.server import database
    except ImportError:
        fail(SERVER_EXTRA)
    try:
        with database(load_server_settings()) as url:
            migrations.upgrade(url)
    except StartupError as error:
        fail(str(error))
    print("database is at the newest revision")


@database_app.command("vacuum")
def vacuum(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Delete finished runs and logs older than this many days (default: the "
            "HEADRACE_RETENTION_* settings).",
        ),
    ] = None,
) -> None:
    """Delete what retention would delete, all at once, then VACUUM (ANALYZE) the big tables."""
    try:
        from headrace_service.errors import StartupError
        from headrace_service.loops import retention
        from headrace_service.server import database
    except ImportError:
        fail(SERVER_EXTRA)
    settings = load_server_settings()
    policy = retention.RetentionPolicy.from_settings(settings)
    if older_than_days is not None:
        policy = replace(policy, runs_days=older_than_days, logs_days=older_than_days)
    try:
        with database(settings) as url:
            result = retention.clean_up(
                url, replace(policy, max_batches=None), pooler=settings.database_pooler
            )
            retention.vacuum(url)
    except StartupError as error:
        fail(str(error))
    print(
        f"deleted {result.runs_deleted} finished flow runs and {result.logs_deleted} log lines; "
        "vacuumed"
    )
