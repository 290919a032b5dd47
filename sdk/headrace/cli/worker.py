"""`headrace worker start`: serve a work pool from this host."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.params import resource_name
from headrace.errors import ApiError, ApiUnreachable
from headrace.pool_types import installed_pool_types, unknown_pool_type_message
from headrace.settings import settings_error_message

app = typer.Typer(help=group_help("worker"), no_args_is_help=True)

DEFAULT_LIMIT = 10


class StartMethod(StrEnum):
    fork = "fork"
    spawn = "spawn"


@app.command("start")
def start(
    pool: Annotated[
        str,
        typer.Option("--pool", "-p", help="The work pool to serve.", callback=resource_name),
    ],
    name: Annotated[
        str | None, typer.Option(help="Name of this worker (default: host name and pid).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="How many runs this worker runs at a time.")
    ] = DEFAULT_LIMIT,
    pool_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="Create the pool with this type if it does not exist (e.g. process)."
        ),
    ] = None,
    start_method: Annotated[
        StartMethod | None,
        typer.Option(
            "--start-method",
            help="How a process pool's flow processes start: fork (from a ready interpreter "
            "with headrace imported; default on Linux) or spawn (a new interpreter per run). "
            "Default: HEADRACE_WORKER_START_METHOD.",
        ),
    ] = None,
    preload: Annotated[
        str | None,
        typer.Option(
            "--preload",
            help="Modules the ready interpreter imports once for every run (e.g. pandas,numpy; "
            "fork only). Default: HEADRACE_WORKER_PRELOAD.",
        ),
    ] = None,
) -> None:
    """Claim and run the pool's runs until SIGINT/SIGTERM (a second signal exits at once)."""
    if pool_type is not None and pool_type not in installed_pool_types():
        fail(unknown_pool_type_message(pool_type))
    try:
        # Lazily: the worker package is only needed by this command.
        from headrace_worker.settings import WorkerSettings
        from headrace_worker.worker import Worker, WorkerError, configure_logging
    except ImportError:
        fail("the worker is not installed: pip install headrace")
    configure_logging()
    overrides: dict[str, Any] = {}  # given options win over HEADRACE_WORKER_* variables
    if start_method is not None:
        overrides["start_method"] = start_method.value
    if preload is not None:
        overrides["preload"] = preload
    try:
        settings = WorkerSettings(**overrides)
    except ValidationError as error:
        fail(settings_error_message(error).replace("HEADRACE_", "HEADRACE_WORKER_", 1))
    worker = Worker(pool, name, limit, create_type=pool_type, settings=settings)
    try:
        code = worker.run()
    except WorkerError as error:
        fail(str(error))
    except ApiUnreachable as error:
        fail(str(error))
    except ApiError as error:
        fail(error.detail)
    raise typer.Exit(code)
