"""Checks of an automation's definition beyond its schema: templates that parse, deployments
that exist. Each problem names the field to fix (`body.actions.0.deployment: ...`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import (
    CallWebhook,
    PauseDeployment,
    ResumeDeployment,
    RunDeployment,
    SendNotification,
)
from headrace_service.automations.actions import find_deployment
from headrace_service.automations.templates import syntax_problem, value_problems
from headrace_service.errors import InvalidInput


def template_problems(action: Any, where: str) -> list[str]:
    if isinstance(action, RunDeployment):
        return value_problems(action.parameters, f"{where}.parameters")
    problems: list[str] = []
    if isinstance(action, CallWebhook):
        sources = {"body": action.body, **{f"headers.{k}": v for k, v in action.headers.items()}}
    elif isinstance(action, SendNotification):
        sources = {"message": action.message}
    else:
        sources = {}
    for field, source in sources.items():
        problem = syntax_problem(source)
        if problem:
            problems.append(f"{where}.{field}: {problem}")
    return problems


async def check_actions(conn: AsyncConnection, actions: list[Any], where: str = "body") -> None:
    """InvalidInput naming every field to fix, or nothing."""
    problems: list[str] = []
    for i, action in enumerate(actions):
        at = f"{where}.actions.{i}"
        problems.extend(template_problems(action, at))
        ref = getattr(action, "deployment", None)
        names_one = isinstance(action, RunDeployment | PauseDeployment | ResumeDeployment)
        if names_one and ref and await find_deployment(conn, ref) is None:
            problems.append(
                f"{at}.deployment: no deployment {ref!r} (give flow/name or an id); see "
                "`headrace deployment ls`"
            )
    if problems:
        raise InvalidInput("; ".join(problems))
