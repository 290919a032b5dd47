"""Flow runs: one execution of a flow, its state and its state history."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from headrace._state_types import StateType
from headrace.schemas.common import (
    Model,
    Name,
    Parameters,
    ReadModel,
    ResourceName,
    State,
    StateCreate,
    Tags,
)
from headrace.schemas.secrets import masked_parameters


class FlowRunCreate(Model):
    """Create a run of a flow known by name (created if new) or by id."""

    flow_name: ResourceName | None = None
    flow_id: uuid.UUID | None = None
    name: Name | None = None
    parameters: Parameters = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    parent_task_run_id: uuid.UUID | None = None
    max_retries: int = Field(default=0, ge=0, le=1000)
    retry_delay_seconds: float = Field(default=0, ge=0, le=7 * 24 * 3600)
    state: StateCreate | None = None


class FlowRunUpdate(Model):
    """What may change of a flow run besides its state: its name (a deployment's run takes the
    name its flow's `flow_run_name` makes when it starts, as in Prefect)."""

    name: Name


class FlowRunRetry(Model):
    """A retry by hand of a finished deployment run: back to Scheduled, for a worker."""

    from_failure: bool = Field(
        default=False,
        description="True: task runs that completed in an earlier attempt and whose results are "
        "stored are not run again (docs/resume-from-failure.md); false: everything runs again.",
    )


class FlowRun(ReadModel):
    _mask_secrets = model_validator(mode="before")(masked_parameters)

    id: uuid.UUID
    name: str
    flow_id: uuid.UUID
    flow_name: str
    deployment_id: uuid.UUID | None = None
    deployment_name: str | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    parameters: dict[str, Any]
    tags: list[str]
    state_type: StateType
    state_name: str
    state_message: str | None = None
    state_timestamp: datetime
    run_count: int
    max_retries: int
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    worker_id: uuid.UUID | None = None
    lease_expires_at: datetime | None = None
    parent_task_run_id: uuid.UUID | None = None
    # Made by the scheduler from this schedule (not asked for by a person or a CI job).
    schedule_id: uuid.UUID | None = None
    auto_scheduled: bool = False
    # The deployment's concurrency key rendered with this run's parameters.
    concurrency_key: str | None = None
    created: datetime
    updated: datetime


class FlowRunDetail(FlowRun):
    """A run with its state history, as `flow-run inspect` shows it."""

    states: list[State]


class SetStateRequest(Model):
    state: StateCreate
    # Who asks: a worker may only move runs it holds the lease of.
    worker_id: uuid.UUID | None = None
    force: bool = False


class SetStateStatus(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


class SetStateResponse(ReadModel):
    status: SetStateStatus
    state: State
    reason: str | None = None
    run: FlowRun


class FlowRunList(ReadModel):
    items: list[FlowRun]
    limit: int
    offset: int


class FlowRunQuery(ReadModel):
    """Filters of `GET /api/flow_runs`; `state_type` takes a comma-separated list."""

    flow_name: str | None = None
    state_type: str | None = None
    deployment_id: uuid.UUID | None = None
    work_pool_name: str | None = None
    tag: str | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)

    def state_types(self) -> list[StateType] | None:
        if not self.state_type:
            return None
        return [StateType(part.strip().upper()) for part in self.state_type.split(",")]


class FlowRunReadQuery(ReadModel):
    """`reveal_secrets=true` returns SecretStr parameters unmasked; it needs a worker key (the
    engine reads its run's parameters this way)."""

    reveal_secrets: bool = False


class FlowRunLeaseQuery(Model):
    """`GET /api/flow_runs/{id}/lease?worker_id=...`: does this worker still hold the run?"""

    worker_id: uuid.UUID


class FlowRunLease(ReadModel):
    """The run is still held by the worker that asked (else the answer is a 409 saying why).
    A flow process started by a worker asks every `lease_seconds / 3` and stops its attempt as
    soon as the answer is no (its lease expired and the run was rescued)."""

    worker_id: uuid.UUID
    lease_expires_at: datetime | None = None
    # The server's lease length: how often the question is worth asking.
    lease_seconds: float


MAX_WAIT_SECONDS = 300.0


class FlowRunWaitQuery(ReadModel):
    """`GET /api/flow_runs/{id}/wait`: a long poll until the run is terminal."""

    timeout: float = Field(
        default=30.0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Seconds to wait for the run to finish; the run is returned either way.",
    )
    paused: bool = Field(
        default=False,
        description="Also return as soon as the run no longer waits Paused (a paused flow "
        "waiting for its resume): resumed, Suspended or ended.",
    )
