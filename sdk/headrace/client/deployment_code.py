"""`GET /deployments/{id}` read as `DeploymentCode`: the lean view a flow process loads its
code with (see `headrace.schemas.deployment_code`); the rest uses `headrace.client.deployments`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from headrace.client.transport import segment
from headrace.schemas.deployment_code import DeploymentCode

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient


def read(client: HeadraceClient, deployment_id: uuid.UUID | str) -> DeploymentCode:
    return client.call("GET", f"/deployments/{segment(deployment_id)}", DeploymentCode)
