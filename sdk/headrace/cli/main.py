"""The `headrace` command: sub-commands are typer apps in their own modules.

typer is imported only once the command line is not a quick command's (`headrace.cli.quick`).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from headrace.cli import quick
from headrace.cli.exits import fail
from headrace.cli.groups import DESCRIPTION, GROUPS
from headrace.errors import SettingsError

if TYPE_CHECKING:
    import typer

# Asking for the top-level help (or for nothing): list the groups from their help lines alone.
_TOP_LEVEL_HELP: tuple[list[str], ...] = ([], ["--help"])


def _root() -> typer.Typer:
    import typer

    return typer.Typer(
        help=DESCRIPTION,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


def build_app(only: str | None = None) -> typer.Typer:
    """The `headrace` command with every group, or with the group `only` alone."""
    app = _root()
    for name, group in GROUPS.items():
        if only is not None and name != only:
            continue
        if name == "deploy":
            from headrace.cli import deploy

            app.command("deploy")(deploy.deploy)
        else:
            app.add_typer(importlib.import_module(f"headrace.cli.{group.module}").app, name=name)
    return app


def _listing_app() -> typer.Typer:
    # Only ever asked for its help: each group is an empty stand-in with the group's help line,
    # so listing the commands imports none of their modules.
    import typer

    app = _root()
    for name, group in GROUPS.items():
        if name == "deploy":
            app.command("deploy", help=group.help)(_listed_only)
        else:
            app.add_typer(typer.Typer(help=group.help), name=name)
    return app


def _listed_only() -> None:
    raise AssertionError("the listing app only prints help")  # pragma: no cover


def __getattr__(name: str) -> Any:
    # `from headrace.cli.main import app` (the CLI reference, tests): the whole command.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _app_for(argv: list[str]) -> typer.Typer:
    # A lone command would become the app itself (typer), so `deploy` gets the whole command.
    if argv in _TOP_LEVEL_HELP:
        return _listing_app()
    first = argv[0] if argv else None
    if first in GROUPS and first != "deploy":
        return build_app(only=first)
    return build_app()


def main() -> None:
    try:
        if quick.answered(sys.argv[1:]):
            raise SystemExit(0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    _typed_main()


def _typed_main() -> None:
    import typer

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
    except Exception as error:
        if not _is_validation_error(error):
            raise
        # Input checked by a model outside `api()` (e.g. a body built before connecting).
        from headrace.client.transport import detail_text

        fail(detail_text(error.errors(include_url=False)))  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _is_validation_error(error: Exception) -> bool:
    # Without importing pydantic: a command that raised one has imported it already.
    pydantic_core = sys.modules.get("pydantic_core")
    return pydantic_core is not None and isinstance(error, pydantic_core.ValidationError)


def usage_error_line(error: typer.TyperException) -> str:
    """Click's usage error (usage, a hint and a boxed message) as one line."""
    message = " ".join(error.format_message().split()).rstrip(".").replace("Value error, ", "")
    context = getattr(error, "ctx", None)
    if context is None:
        return message
    return f"{message} (see `{context.command_path} --help`)"


if __name__ == "__main__":
    main()
