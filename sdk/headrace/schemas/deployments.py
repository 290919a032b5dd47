"""Deployments: a flow made runnable by workers: entrypoint, code folder, pool, defaults.

A deployment is named `flow_name/name` (unique per flow). Creating one that exists updates it
(deploying twice is harmless). A run of a deployment takes the deployment's default parameters
merged with the ones given, validated against `parameter_schema` (a JSON schema made from the
flow function's type hints), and waits SCHEDULED in the deployment's pool and queue until a
worker claims it. Send an `Idempotency-Key` header to create a run at most once per key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import Field, field_validator, model_validator

from headrace.entrypoints import standard_library_refusal
from headrace.schemas.automations import MAX_DEPLOYMENT_TRIGGERS, DeploymentTrigger
from headrace.schemas.code_sources import CodeSource
from headrace.schemas.common import (
    Message,
    Model,
    Name,
    Parameters,
    ReadModel,
    ResourceName,
    StorableTime,
    Tags,
)
from headrace.schemas.schedules import MAX_SCHEDULES, DeploymentScheduleCreate
from headrace.schemas.secrets import masked_parameters
from headrace.schemas.work_pools import ConcurrencyLimit

MAX_ENTRYPOINT = 1000
MAX_CONCURRENCY_KEY = 500


def check_entrypoint(value: str) -> str:
    """`path/to/file.py:function` (or `package.module:function`), naming your code: a module of
    the standard library (`os:system`) is refused, as the flow process would refuse it."""
    where, _, function = value.rpartition(":")
    if not where or not function.isidentifier():
        raise ValueError(f"expected 'path/to/file.py:function_name', got {value!r}")
    refused = standard_library_refusal(value)
    if refused is not None:
        raise ValueError(refused)
    return value


def check_absolute_path(value: str) -> str:
    if not (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()):
        raise ValueError(f"must be an absolute folder path on the worker's host, got {value!r}")
    return value


class DeploymentCreate(Model):
    flow_name: ResourceName
    name: ResourceName
    entrypoint: str = Field(max_length=MAX_ENTRYPOINT)
    # The code folder on the worker's host; the worker runs the flow from there.
    path: str = Field(max_length=4096)
    # Code from elsewhere (an uploaded bundle, a git repository); None: the folder `path`.
    source: CodeSource | None = None
    parameters: Parameters = Field(default_factory=dict)
    parameter_schema: Parameters = Field(default_factory=dict)
    work_pool_name: ResourceName
    # None: the pool's "default" queue.
    work_queue_name: ResourceName | None = None
    tags: Tags = Field(default_factory=list)
    description: Message | None = None
    version: Name | None = None
    paused: bool = False
    concurrency_limit: ConcurrencyLimit | None = None
    # A template over the run's parameters (`{{ parameters.customer }}`): the limit then
    # counts running runs per rendered value instead of per deployment.
    concurrency_key: str | None = Field(default=None, max_length=MAX_CONCURRENCY_KEY)
    job_variables: Parameters = Field(default_factory=dict)
    # The flow's retries: a run that crashes (its worker died) is rescheduled this many times.
    retries: int = Field(default=0, ge=0, le=1000)
    retry_delay_seconds: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    # None keeps the deployment's schedules as they are; a list replaces them (identical
    # ones keep their upcoming runs); [] removes them all.
    schedules: list[DeploymentScheduleCreate] | None = Field(default=None, max_length=MAX_SCHEDULES)
    # After downtime, create the schedule's missed runs instead of skipping them.
    catchup: bool = False
    # None keeps the deployment's triggers; a list replaces the automations that run it
    # (docs/automations.md, "Triggers of a deployment"); [] removes them.
    triggers: list[DeploymentTrigger] | None = Field(
        default=None, max_length=MAX_DEPLOYMENT_TRIGGERS
    )

    _entrypoint = field_validator("entrypoint")(check_entrypoint)
    _path = field_validator("path")(check_absolute_path)


class DeploymentUpdate(Model):
    """PATCH: only the fields sent change; `concurrency_limit: null` removes the limit,
    `concurrency_key: null` the key."""

    paused: bool | None = None
    concurrency_limit: ConcurrencyLimit | None = None
    concurrency_key: str | None = Field(default=None, max_length=MAX_CONCURRENCY_KEY)
    description: Message | None = None
    tags: Tags | None = None
    parameters: Parameters | None = None


class Deployment(ReadModel):
    _mask_secrets = model_validator(mode="before")(masked_parameters)

    id: uuid.UUID
    flow_id: uuid.UUID
    flow_name: str
    name: str
    entrypoint: str
    path: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    parameter_schema: dict[str, Any] = Field(default_factory=dict)
    work_pool_id: uuid.UUID | None = None
    work_pool_name: str | None = None
    work_queue_id: uuid.UUID | None = None
    work_queue_name: str | None = None
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    version: str | None = None
    paused: bool
    concurrency_limit: int | None = None
    concurrency_key: str | None = None
    job_variables: dict[str, Any] = Field(default_factory=dict)
    retries: int = 0
    retry_delay_seconds: float = 0.0
    catchup: bool = False
    created: datetime
    updated: datetime

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


class DeploymentQuery(ReadModel):
    """Filters of `GET /api/deployments`."""

    flow_name: str | None = None
    work_pool_name: str | None = None
    limit: int = Field(default=200, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class DeploymentRunCreate(Model):
    """A run of a deployment; the header `Idempotency-Key` makes repeating it harmless."""

    parameters: Parameters = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    # None: now. A later time: the run waits SCHEDULED until then.
    scheduled_time: StorableTime | None = None
    name: Name | None = None
