"""Checks of an automation's definition beyond its schema: templates that parse, deployments
that exist. Each problem names the field to fix (`body.actions.0.deployment: ...`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import (
    CallWebhook,
    PauseAutomation,
    PauseDeployment,
    ResumeAutomation,
    ResumeDeployment,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
)
from headrace_service.automations.targets import find_automation, find_deployment
from headrace_service.automations.templates import syntax_problem, value_problems
from headrace_service.errors import InvalidInput
from headrace_service.store import work_pools as pools


def template_problems(action: Any, where: str) -> list[str]:
    if isinstance(action, RunDeployment):
        return value_problems(action.parameters, f"{where}.parameters")
    if isinstance(action, ResumeFlowRun) and action.run_input is not None:
        return value_problems(action.run_input, f"{where}.run_input")
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
        problems.extend(await _missing_targets(conn, action, at))
    if problems:
        raise InvalidInput("; ".join(problems))


async def _missing_targets(conn: AsyncConnection, action: Any, at: str) -> list[str]:
    """The work pool, queue or automation an action names, when it does not exist."""
    pool_name = getattr(action, "work_pool", None)
    named = isinstance(action, PauseAutomation | ResumeAutomation) and action.automation
    if named and await find_automation(conn, action.automation) is None:
        return [f"{at}.automation: no automation {action.automation!r}"]
    if not pool_name:
        return []
    pool = await pools.work_pool_get(conn, pool_name, heartbeat_seconds=30.0)
    if pool is None:
        return [f"{at}.work_pool: no work pool {pool_name!r}; see `headrace work-pool ls`"]
    queue_name = getattr(action, "work_queue", None)
    if queue_name and await pools.work_queue_get(conn, pool["id"], queue_name) is None:
        return [f"{at}.work_queue: pool {pool_name!r} has no queue {queue_name!r}"]
    return []
