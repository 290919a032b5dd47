"""Work pools, their queues and their workers; the claim and heartbeat contract of a pull worker.

A work pool groups the runs that one kind of worker executes (its `type`, e.g. "process").
Each pool has queues (a "default" one is made with the pool) that order and limit its runs. A
worker heartbeats to stay ONLINE and to renew the leases of the runs it holds, and claims due
runs with a long poll: the claim answers at once when runs are due, else waits up to
`wait_seconds` for one.

PATCH bodies: only the fields sent are changed; `concurrency_limit: null` removes a limit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from headrace.schemas.common import Message, Model, Name, ReadModel, ResourceName
from headrace.schemas.flow_runs import FlowRun

DEFAULT_QUEUE = "default"
DEFAULT_POOL_TYPE = "process"
MAX_CLAIM = 100
MAX_HELD_RUNS = 10_000

ConcurrencyLimit = Annotated[int, Field(ge=0, le=1_000_000)]
Priority = Annotated[int, Field(ge=1, le=1_000_000)]


class WorkPoolCreate(Model):
    name: ResourceName
    type: Name = DEFAULT_POOL_TYPE
    description: Message | None = None
    concurrency_limit: ConcurrencyLimit | None = None
    paused: bool = False


class WorkPoolUpdate(Model):
    description: Message | None = None
    concurrency_limit: ConcurrencyLimit | None = None
    paused: bool | None = None


class WorkPool(ReadModel):
    id: uuid.UUID
    name: str
    type: str
    description: str | None = None
    concurrency_limit: int | None = None
    paused: bool
    created: datetime
    updated: datetime
    workers_online: int = 0
    # SCHEDULED runs of the pool whose start time has come (what a worker would claim now).
    runs_waiting: int = 0
    default_queue_name: str = DEFAULT_QUEUE


class WorkQueueCreate(Model):
    name: ResourceName
    # Lower runs first (1 is the most urgent), as in Prefect.
    priority: Priority = 1
    concurrency_limit: ConcurrencyLimit | None = None
    description: Message | None = None
    paused: bool = False


class WorkQueueUpdate(Model):
    priority: Priority | None = None
    concurrency_limit: ConcurrencyLimit | None = None
    description: Message | None = None
    paused: bool | None = None


class WorkQueue(ReadModel):
    id: uuid.UUID
    work_pool_id: uuid.UUID
    work_pool_name: str
    name: str
    description: str | None = None
    priority: int
    concurrency_limit: int | None = None
    paused: bool
    created: datetime
    runs_waiting: int = 0


class WorkerStatus(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"


class PoolTypeAnnouncement(Model):
    """What a worker runs: its pool type plug-in and the JSON schema of the job variables that
    plug-in reads (a deployment's `job_variables`)."""

    type: Name
    job_variables_schema: dict[str, Any] = Field(default_factory=dict)


class WorkerHeartbeat(Model):
    """Sent every `heartbeat_seconds`; registers the worker on first use (by pool + name)."""

    name: Name
    heartbeat_interval_seconds: float | None = Field(default=None, gt=0, le=3600)
    # The runs this worker is still executing: their leases are renewed.
    run_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_HELD_RUNS)
    # The worker is shutting down: from this heartbeat on, its claims (even one already waiting
    # on the server) hand it nothing. A later heartbeat without it serves the worker again.
    stopping: bool = False
    # Sent when the worker registers (its first heartbeat); kept until it announces another.
    announcement: PoolTypeAnnouncement | None = None


class Worker(ReadModel):
    id: uuid.UUID
    name: str
    work_pool_id: uuid.UUID
    work_pool_name: str
    last_heartbeat: datetime
    heartbeat_interval_seconds: float | None = None
    # OFFLINE when no heartbeat came for a few heartbeat intervals.
    status: WorkerStatus
    # What it announced when it registered (null if it did not).
    pool_type: str | None = None
    job_variables_schema: dict[str, Any] | None = None
    created: datetime


class HeartbeatResponse(ReadModel):
    worker_id: uuid.UUID
    # Runs of this worker that were asked to stop: kill their processes, then report Cancelled.
    cancel_run_ids: list[uuid.UUID] = Field(default_factory=list)
    # Runs the worker named that it no longer holds (lease expired, taken by another worker,
    # finished or cancelled): stop them without reporting anything; their states are refused.
    lost_run_ids: list[uuid.UUID] = Field(default_factory=list)
    # Runs of this worker suspended from outside (suspend_flow_run(flow_run_id=...)): stop
    # their processes and report nothing (they are Suspended; a worker runs them again).
    suspend_run_ids: list[uuid.UUID] = Field(default_factory=list)
    lease_seconds: float
    heartbeat_seconds: float


class CancellationWait(Model):
    """A worker's long poll for runs it holds that were asked to stop (prompt cancellation,
    without waiting for the next heartbeat)."""

    worker_id: uuid.UUID
    # Runs it is already stopping: not answered again.
    ignore_run_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_HELD_RUNS)
    # With nothing to stop, wait up to this long (capped by the server's
    # claim_max_wait_seconds). 0 answers at once.
    wait_seconds: float = Field(default=0.0, ge=0, le=3600)


class ClaimRequest(Model):
    worker_id: uuid.UUID
    limit: int = Field(default=1, ge=1, le=MAX_CLAIM)
    # Long poll: with nothing due, wait up to this long for a run (capped by the server's
    # claim_max_wait_seconds). 0 answers at once.
    wait_seconds: float = Field(default=0.0, ge=0, le=3600)


class ClaimedRun(ReadModel):
    """A run now PENDING for the claiming worker, with what it needs to execute it."""

    flow_run: FlowRun
    deployment_id: uuid.UUID
    deployment_name: str
    flow_name: str
    entrypoint: str
    # The code folder on the worker's host (source["path"] for a folder source).
    path: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    lease_expires_at: datetime


class WorkPoolCreateQuery(ReadModel):
    """`POST /api/work_pools?overwrite=true` replaces the settings of an existing pool."""

    overwrite: bool = False
