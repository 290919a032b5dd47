"""The triggers a deployment is deployed with: each becomes an automation that runs it.

Deploying with `triggers=[...]` replaces the deployment's automations (in the transaction of the
deploy); `triggers=None` keeps them; deleting the deployment deletes them (foreign key).
"""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import DeploymentTrigger, EventTrigger
from headrace_service.automations.evaluator import automation_labels
from headrace_service.automations.templates import value_problems
from headrace_service.errors import ConflictError, InvalidInput
from headrace_service.store import automations as store
from headrace_service.store.events import event_record


def automation_name(deployment: RowMapping, index: int, trigger: DeploymentTrigger) -> str:
    return trigger.name or f"{deployment['flow_name']}/{deployment['name']} trigger {index + 1}"


async def replace_triggers(
    conn: AsyncConnection, deployment: RowMapping, triggers: list[DeploymentTrigger]
) -> None:
    problems = [
        p
        for i, t in enumerate(triggers)
        for p in value_problems(t.parameters, f"body.triggers.{i}.parameters")
    ]
    if problems:
        raise InvalidInput("; ".join(problems))
    await store.automations_of_deployment_delete(conn, deployment["id"])
    for i, trigger in enumerate(triggers):
        event_trigger = EventTrigger.model_validate(
            trigger.model_dump(exclude={"name", "enabled", "parameters"})
        )
        definition = {
            "name": automation_name(deployment, i, trigger),
            "description": f"runs {deployment['flow_name']}/{deployment['name']} (deployed)",
            "enabled": trigger.enabled,
            "trigger": event_trigger.model_dump(mode="json"),
            "actions": [
                {
                    "type": "run-deployment",
                    "deployment": str(deployment["id"]),
                    "parameters": trigger.parameters,
                }
            ],
        }
        row = await store.automation_create(conn, definition, deployment["id"])
        if row is None:
            raise ConflictError(
                f"body.triggers.{i}.name: an automation named {definition['name']!r} already "
                "exists; give the trigger another name"
            )
        await event_record(
            conn, "headrace.automation.created", automation_labels(row["id"], row["name"])
        )
