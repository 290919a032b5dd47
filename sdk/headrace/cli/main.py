"""The `headrace` command: sub-commands are typer apps in their own modules."""

from __future__ import annotations

import sys

import typer

from headrace.cli import (
    api_key,
    concurrency_limit,
    config,
    deploy,
    deployment,
    flow_run,
    profile,
    server,
    work_pool,
    work_queue,
    worker,
)
from headrace.cli.output import fail
from headrace.errors import SettingsError

app = typer.Typer(
    help="headrace: a self-hosted workflow orchestrator for Python, on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(server.app, name="server")
app.add_typer(flow_run.app, name="flow-run")
app.add_typer(api_key.app, name="api-key")
app.add_typer(worker.app, name="worker")
app.add_typer(work_pool.app, name="work-pool")
app.add_typer(work_queue.app, name="work-queue")
app.add_typer(deployment.app, name="deployment")
app.command("deploy")(deploy.deploy)
app.add_typer(concurrency_limit.app, name="concurrency-limit")
app.add_typer(config.app, name="config")
app.add_typer(profile.app, name="profile")


def main() -> None:
    try:
        app()
    except SettingsError as error:  # from any command that reads the client settings
        fail(str(error))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
