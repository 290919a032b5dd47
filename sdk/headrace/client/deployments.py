"""`/deployments`: flows made runnable by workers, and runs of them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.deployments import (
    Deployment,
    DeploymentCreate,
    DeploymentQuery,
    DeploymentRunCreate,
    DeploymentUpdate,
)
from headrace.schemas.flow_runs import FlowRun

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

DEPLOYMENTS = TypeAdapter(list[Deployment])


def path(deployment_id: uuid.UUID | str) -> str:
    return f"/deployments/{segment(deployment_id)}"


def name_path(flow_name: str, name: str) -> str:
    return f"/deployments/name/{segment(flow_name)}/{segment(name)}"


def create(client: HeadraceClient, body: DeploymentCreate) -> Deployment:
    """Create a deployment, or update the one of that flow and name."""
    return client.call("POST", "/deployments", Deployment, body)


def read(client: HeadraceClient, deployment_id: uuid.UUID | str) -> Deployment:
    return client.call("GET", path(deployment_id), Deployment)


def read_by_name(client: HeadraceClient, flow_name: str, name: str) -> Deployment:
    return client.call("GET", name_path(flow_name, name), Deployment)


def list_deployments(client: HeadraceClient, query: DeploymentQuery) -> list[Deployment]:
    return client.call_list("GET", "/deployments", DEPLOYMENTS, query=query)


def update(
    client: HeadraceClient, deployment_id: uuid.UUID | str, body: DeploymentUpdate
) -> Deployment:
    """Change the fields set in `body` only."""
    return client.call("PATCH", path(deployment_id), Deployment, body, patch=True)


def delete(client: HeadraceClient, deployment_id: uuid.UUID | str) -> None:
    client.send("DELETE", path(deployment_id))


def run_by_name(
    client: HeadraceClient,
    flow_name: str,
    name: str,
    body: DeploymentRunCreate,
    *,
    idempotency_key: str | None = None,
) -> FlowRun:
    """Create a run of the deployment `flow_name/name`; at most one per `idempotency_key`."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    return client.call("POST", name_path(flow_name, name) + "/runs", FlowRun, body, headers=headers)
