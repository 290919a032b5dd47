"""`/deployments/{id}/schedules` and `/deployment_schedules`: when a deployment runs."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.deployments import path as deployment_path
from headrace.client.transport import segment
from headrace.schemas.schedules import (
    DeploymentSchedule,
    DeploymentScheduleCreate,
    DeploymentScheduleUpdate,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

SCHEDULES = TypeAdapter(list[DeploymentSchedule])


def path(schedule_id: uuid.UUID | str) -> str:
    return f"/deployment_schedules/{segment(schedule_id)}"


def create(
    client: HeadraceClient, deployment_id: uuid.UUID | str, body: DeploymentScheduleCreate
) -> DeploymentSchedule:
    url = f"{deployment_path(deployment_id)}/schedules"
    return client.call("POST", url, DeploymentSchedule, body)


def of_deployment(
    client: HeadraceClient, deployment_id: uuid.UUID | str
) -> list[DeploymentSchedule]:
    return client.call_list("GET", f"{deployment_path(deployment_id)}/schedules", SCHEDULES)


def read(client: HeadraceClient, schedule_id: uuid.UUID | str) -> DeploymentSchedule:
    return client.call("GET", path(schedule_id), DeploymentSchedule)


def update(
    client: HeadraceClient, schedule_id: uuid.UUID | str, body: DeploymentScheduleUpdate
) -> DeploymentSchedule:
    """Change the fields set in `body` only (`active=False` pauses)."""
    return client.call("PATCH", path(schedule_id), DeploymentSchedule, body, patch=True)


def delete(client: HeadraceClient, schedule_id: uuid.UUID | str) -> None:
    client.send("DELETE", path(schedule_id))
