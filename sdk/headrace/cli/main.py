"""The `headrace` command: sub-commands are typer apps in their own modules."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from headrace.cli import (
    api_key,
    block,
    concurrency_limit,
    config,
    deploy,
    deployment,
    flow_run,
    global_concurrency_limit,
    profile,
    server,
    work_pool,
    work_queue,
    worker,
)
from headrace.cli.output import fail
from headrace.client.transport import detail_text
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
app.add_typer(block.app, name="block")
app.add_typer(global_concurrency_limit.app, name="global-concurrency-limit")
app.add_typer(global_concurrency_limit.app, name="gcl", help="Alias of global-concurrency-limit.")
app.add_typer(config.app, name="config")
app.add_typer(profile.app, name="profile")


def main() -> None:
    try:
        # Not standalone: click's usage errors come here as exceptions, to print in one line.
        code = app(standalone_mode=False)
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
