"""`{{ variables.NAME }}` in a deployment's parameters and job variables, filled in when a run
is claimed (so a run uses the value of the moment it starts, not of when it was scheduled).

A string that is exactly one placeholder becomes the variable's JSON value (a number stays a
number, a list a list); a placeholder inside longer text is replaced by the value as text (a
string as is, anything else as JSON). A placeholder naming no variable is left as written, so
the run's parameters show what was missing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.common import walk_json
from headrace.schemas.work_pools import ClaimedRun
from headrace_service.store.flow_runs import flow_run_parameters_set
from headrace_service.store.variables import variable_values

PLACEHOLDER = re.compile(r"\{\{\s*variables\.([^\s{}]+)\s*\}\}")


def referenced_names(value: Any) -> set[str]:
    """Names of the variables that `value` (any JSON) refers to."""
    names: set[str] = set()
    for item, _ in walk_json(value):
        if isinstance(item, str) and "{{" in item:
            names.update(PLACEHOLDER.findall(item))
    return names


def render(value: Any, variables: dict[str, Any]) -> Any:
    """`value` with every placeholder of a known variable filled in."""
    if isinstance(value, str):
        return _render_text(value, variables)
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    return value


def _render_text(text: str, variables: dict[str, Any]) -> Any:
    whole = PLACEHOLDER.fullmatch(text.strip())
    if whole is not None and whole.group(1) in variables:
        return variables[whole.group(1)]

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            return match.group(0)
        found = variables[name]
        return found if isinstance(found, str) else json.dumps(found)

    return PLACEHOLDER.sub(replace, text)


async def fill_claimed_runs(conn: AsyncConnection, runs: list[ClaimedRun]) -> None:
    """Fill in the variables the claimed runs' parameters and job variables refer to. The
    parameters are stored filled in too: the run's process reads them from its flow run."""
    names: set[str] = set()
    for run in runs:
        names |= referenced_names(run.parameters) | referenced_names(run.job_variables)
    if not names:
        return
    values = await variable_values(conn, sorted(names))
    for run in runs:
        run.job_variables = render(run.job_variables, values)
        parameters = render(run.parameters, values)
        if parameters != run.parameters:
            run.parameters = run.flow_run.parameters = parameters
            await flow_run_parameters_set(conn, run.flow_run.id, parameters)
