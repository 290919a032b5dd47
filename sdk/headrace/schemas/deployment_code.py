"""What a flow process needs of its deployment: the entrypoint to load and the default parameters.

The full `Deployment` model pulls in the schedule, work-pool and code-source models, about 30 ms
of imports and validator building that every flow process started by a worker would pay for two
fields. The API's answer for `GET /deployments/{id}` is read through this model instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from headrace.schemas.common import ReadModel


class DeploymentCode(ReadModel):
    entrypoint: str
    parameters: dict[str, Any] = Field(default_factory=dict)
