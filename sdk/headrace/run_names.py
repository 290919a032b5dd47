"""Run names chosen by the user: `flow_run_name=` / `task_run_name=` as a template over the
parameters (`"etl-{day}"`) or a callable taking no argument (which may read
`headrace.runtime`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headrace.schemas.names import MAX_NAME

RunName = str | Callable[[], str]


def check_run_name(value: object, option: str) -> None:
    """Refuse at decoration time what can never make a name."""
    if value is not None and not isinstance(value, str) and not callable(value):
        raise TypeError(
            f"{option} must be a str template like 'run-{{x}}' or a function returning a str, "
            f"not {type(value).__name__}"
        )


def format_run_name(template: RunName, parameters: dict[str, Any], option: str) -> str:
    """The name `template` makes for a run with these parameters; a ValueError naming the
    option when it cannot make one."""
    if callable(template):
        name = template()
        if not isinstance(name, str):
            raise TypeError(f"{option}: the function returned {type(name).__name__}, not a str")
    else:
        try:
            name = template.format(**parameters)
        except KeyError as exc:
            raise ValueError(
                f"{option}={template!r} uses {{{exc.args[0]}}}, which is not a parameter "
                f"(parameters: {', '.join(sorted(parameters)) or 'none'})"
            ) from None
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{option}={template!r} is not a valid template: {exc}") from None
    name = name.strip()
    if not name:
        raise ValueError(f"{option} made an empty run name")
    if len(name) > MAX_NAME:
        raise ValueError(f"{option} made a run name of {len(name)} characters (at most {MAX_NAME})")
    return name
