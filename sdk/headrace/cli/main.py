"""The `headrace` command: sub-commands are typer apps in their own modules."""

from __future__ import annotations

import sys

import typer
from headrace.cli import flow_run, server

app = typer.Typer(
    help="headrace: a self-hosted workflow orchestrator for Python, on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(server.app, name="server")
app.add_typer(flow_run.app, name="flow-run")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
