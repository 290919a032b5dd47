"""The `headrace` command: sub-commands are typer apps in their own modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from pydantic import ValidationError

from headrace.cli.output import fail
from headrace.errors import SettingsError

# Each command group's module, in the order `headrace --help` lists them. A command line naming
# one imports only that module: `headrace work-pool ls` does not pay for the server, the engine
# (deploy) and the rest.
GROUPS: dict[str, str] = {
    "server": "server",
    "flow-run": "flow_run",
    "api-key": "api_key",
    "worker": "worker",
    "work-pool": "work_pool",
    "work-queue": "work_queue",
    "deployment": "deployment",
    "deploy": "",  # a command, not a group: see build_app
    "concurrency-limit": "concurrency_limit",
    "block": "block",
    "global-concurrency-limit": "global_concurrency_limit",
    "gcl": "global_concurrency_limit",  # the short name, as in Prefect
    "config": "config",
    "profile": "profile",
    "artifact": "artifact",
    "variable": "variable",
    "event": "event",
}


def build_app(only: str | None = None) -> typer.Typer:
    """The `headrace` command with every group, or with the group `only` alone."""
    app = typer.Typer(
        help="headrace: a self-hosted workflow orchestrator for Python, on PostgreSQL.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for name, module in GROUPS.items():
        if only is not None and name != only:
            continue
        if name == "deploy":
            from headrace.cli import deploy

            app.command("deploy")(deploy.deploy)
        else:
            app.add_typer(importlib.import_module(f"headrace.cli.{module}").app, name=name)
    return app


def __getattr__(name: str) -> Any:
    # `from headrace.cli.main import app` (the CLI reference, tests): the whole command.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _app_for(argv: list[str]) -> typer.Typer:
    # A lone command would become the app itself (typer), so `deploy` gets the whole command.
    first = argv[0] if argv else None
    if first in GROUPS and first != "deploy":
        return build_app(only=first)
    return build_app()


def main() -> None:
    try:
        # Not standalone: click's usage errors come here as exceptions, to print in one line.
        code = _app_for(sys.argv[1:])(standalone_mode=False)
    except typer.TyperException as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # as typer does, without importing it
            error.show()  # type: ignore[attr-defined]
            raise SystemExit(2) from None
        fail(usage_error_line(error), getattr(error, "exit_code", 2))
    except typer.Abort:
        fail("aborted", 1)
    except SettingsError as error:  # from any command that reads the client settings
        fail(str(error))
    except ValidationError as error:
        # Input checked by a model outside `api()` (e.g. a body built before connecting).
        from headrace.client.transport import detail_text

        fail(detail_text(error.errors(include_url=False)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def usage_error_line(error: typer.TyperException) -> str:
    """Click's usage error (usage, a hint and a boxed message) as one line."""
    message = " ".join(error.format_message().split()).rstrip(".").replace("Value error, ", "")
    context = getattr(error, "ctx", None)
    if context is None:
        return message
    return f"{message} (see `{context.command_path} --help`)"


if __name__ == "__main__":
    main()
