"""What the engine needs from wherever runs are recorded, as small ports by concern.

Each port has three implementations: the API's (`headrace.ports.api`, on the typed
client), an offline one (`headrace.ports.offline`: nothing leaves the process) and the
recording one of `headrace.testing`. `Backend` (headrace.ports.backend) bundles one of each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from headrace.reporter import LogLine, TaskRunRecord
    from headrace.schemas.deployment_code import DeploymentCode
    from headrace.states import State


@dataclass
class FlowRunInfo:
    """What the engine needs to know about a flow run."""

    id: uuid.UUID
    name: str
    flow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    run_count: int = 0
    state_type: str | None = None
    deployment_id: uuid.UUID | None = None
    deployment_name: str | None = None
    # When the run was meant to start (what `headrace.runtime.flow_run.scheduled_start_time` says).
    expected_start_time: datetime | None = None
    # Set by a retry by hand (`POST /flow_runs/{id}/retry`): True to resume from failure,
    # False to run everything again; None: the flow's `resume_from_failure` decides.
    from_failure: bool | None = None
    # When each earlier attempt started (its Running states), oldest first.
    attempt_starts: list[datetime] = field(default_factory=list)


@dataclass(frozen=True)
class NewFlowRun:
    """A flow run to create (the fields of `FlowRunCreate` the engine sets)."""

    flow_name: str
    parameters: dict[str, Any]
    tags: list[str]
    parent_task_run_id: uuid.UUID | None
    max_retries: int
    retry_delay_seconds: float
    state: State[Any]
    # None: the server names the run.
    name: str | None = None


class RunStates(Protocol):
    """Flow runs and their states: synchronous, because the server may refuse a state."""

    def create(self, run: NewFlowRun) -> FlowRunInfo: ...

    def read(self, flow_run_id: uuid.UUID) -> FlowRunInfo:
        """An existing run, its secret parameters unmasked; `Abort` when it cannot be read."""
        ...

    def set_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> bool:
        """Record a run's new state; `Abort` if the server refuses it. False when it could not
        be recorded (the API is unreachable: the run goes on)."""
        ...

    def read_deployment(self, deployment_id: uuid.UUID) -> DeploymentCode:
        """The deployment an existing run loads its code from; `Abort` when unreadable."""
        ...

    def rename(self, flow_run_id: uuid.UUID, name: str) -> bool:
        """Give an existing run the name its flow's `flow_run_name` makes; False when the
        name could not be recorded (the run goes on under its old name)."""
        ...

    def completed_task_runs(self, flow_run_id: uuid.UUID) -> dict[uuid.UUID, datetime | None]:
        """The task runs of an existing run that completed (in earlier attempts), by id, with
        when each ended: what a retry from failure may reuse."""
        ...


class TaskRuns(Protocol):
    """Task run states: buffered, sent in batches."""

    def set_state(self, record: TaskRunRecord, state: State[Any]) -> None: ...

    def flush(self) -> bool:
        """Send what is buffered; False if some of it could not be sent."""
        ...


class Logs(Protocol):
    """Run log lines: buffered, sent in batches."""

    def log(self, entry: LogLine) -> None: ...

    def flush(self) -> bool:
        """Send what is buffered; False if some of it could not be sent."""
        ...


class Results(Protocol):
    """Serialised task results, for caching across runs."""

    def read(self, key: str) -> tuple[str, bytes] | None:
        """(serializer, data) of an unexpired result; None when there is none to use."""
        ...

    def write(
        self, key: str, serializer: str, data: bytes, expires_at: datetime | None
    ) -> None: ...

    def delete(self, key: str) -> None:
        """Forget a result (none under `key` is fine): a rolled-back task run's."""
        ...


class Slots(Protocol):
    """Slots of tag concurrency limits, held by task runs."""

    def limited_tags(self) -> frozenset[str]:
        """Tags that have a limit (may be a few seconds old)."""
        ...

    def acquire(self, tags: list[str], holder_id: uuid.UUID, lease_seconds: float) -> bool:
        """One slot of every limited tag in `tags`, all or none; False when one is full."""
        ...

    def renew(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None: ...

    def release(self, holder_id: uuid.UUID) -> None: ...
