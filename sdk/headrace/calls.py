"""A task call (what a task runner receives) and what the core and the engine need of a flow, a
task and a task runner, as protocols.

The decorators (`headrace.flows`, `headrace.tasks`) and the runners (`headrace.task_runners`) sit
above the engine and import it; the context and the engine below refer to them only through these
protocols, so imports point one way. Members are read-only properties: `Flow[P, R]` and
`Task[P, R]` satisfy them with their own, narrower types.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from headrace.reporter import TaskRunRecord

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    from headrace.caching import CachePolicy
    from headrace.parameters import ParameterModel
    from headrace.results import ResultSerializer
    from headrace.retries import RetryDelay
    from headrace.run_names import RunName
    from headrace.states import State


class TaskRunnerLike(Protocol):
    """Runs task calls of one flow run attempt (see `headrace.task_runners.TaskRunner`)."""

    def duplicate(self) -> TaskRunnerLike: ...

    def submit(self, call: TaskCall) -> concurrent.futures.Future[State[Any]]: ...

    def __enter__(self) -> TaskRunnerLike: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class _RunOptions(Protocol):
    """What flows and tasks share."""

    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def retries(self) -> int: ...
    @property
    def retry_delay_seconds(self) -> RetryDelay: ...
    @property
    def retry_jitter_factor(self) -> float | None: ...
    @property
    def timeout_seconds(self) -> float | None: ...
    @property
    def log_prints(self) -> bool | None: ...
    @property
    def isasync(self) -> bool: ...
    @property
    def on_completion(self) -> Sequence[Callable[..., Any]]: ...
    @property
    def on_failure(self) -> Sequence[Callable[..., Any]]: ...
    @property
    def on_running(self) -> Sequence[Callable[..., Any]]: ...

    def call_args(self, parameters: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]: ...


class FlowLike(_RunOptions, Protocol):
    """A flow as the engine runs it and as deployments describe it (`headrace.flows.Flow`)."""

    @property
    def validate_parameters(self) -> bool: ...
    @property
    def flow_run_name(self) -> RunName | None: ...
    @property
    def task_runner(self) -> TaskRunnerLike: ...
    @property
    def on_crashed(self) -> Sequence[Callable[..., Any]]: ...
    @property
    def on_cancellation(self) -> Sequence[Callable[..., Any]]: ...
    @property
    def parameter_model(self) -> ParameterModel: ...
    @property
    def parameter_schema(self) -> dict[str, Any]: ...
    @property
    def persist_result(self) -> bool | None: ...
    @property
    def result_storage(self) -> str | Path | None: ...
    @property
    def result_serializer(self) -> ResultSerializer | None: ...
    @property
    def resume_from_failure(self) -> bool: ...


class TaskLike(_RunOptions, Protocol):
    """A task as the engine runs it (`headrace.tasks.Task`)."""

    @property
    def task_key(self) -> str: ...
    @property
    def task_run_name(self) -> RunName | None: ...
    @property
    def retry_condition_fn(self) -> Callable[..., bool] | None: ...
    @property
    def cache_expiration(self) -> dt.timedelta | None: ...
    @property
    def refresh_cache(self) -> bool: ...
    @property
    def persist_result(self) -> bool | None: ...
    @property
    def result_serializer(self) -> ResultSerializer | None: ...
    @property
    def result_storage(self) -> str | Path | None: ...
    @property
    def result_storage_key(self) -> str | None: ...

    @property
    def on_commit_hooks(self) -> Sequence[Callable[..., Any]]: ...
    @property
    def on_rollback_hooks(self) -> Sequence[Callable[..., Any]]: ...

    def cache_policy_in_effect(self) -> CachePolicy | None: ...
    def persists_results(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a task run needs from its flow run's context; one per flow run attempt;
    it travels with each `TaskCall`."""

    api_url: str | None
    api_key: str | None
    # False when the flow records nowhere (no API): the call must not try to reach one.
    online: bool
    log_prints: bool
    result_max_bytes: int
    # What the FLOW_PARAMETERS cache policy keys on (hashed once per attempt).
    flow_parameters_key: str | None = None
    # The flow's `result_storage`: where its tasks store results unless they name their own.
    result_storage: str | None = None
    # The flow run may be retried from failure: each completed task run's result is also
    # stored under its identity (`headrace.resume`), for a later attempt to reuse.
    resume: bool = False
    # The flow's `result_serializer`: what results kept for a resume are written with
    # (unless the task names its own).
    result_serializer: Any = None


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One task run to execute; pickles as long as the task's function is importable by name
    and its parameters pickle."""

    task: TaskLike
    parameters: dict[str, Any]
    task_run_id: uuid.UUID
    flow_run_id: uuid.UUID
    task_run_name: str
    task_key: str
    dynamic_key: str
    tags: tuple[str, ...]
    # Upstream task run ids per parameter (edges of the run graph), resolved on the flow side.
    task_inputs: dict[str, list[uuid.UUID]]
    context: CallContext
    # Attempts already spent elsewhere (a runner resending the call after its worker died):
    # the next attempt counts from here, so retries are not granted twice.
    runs_before: int = 0
    # The flow run attempt in which this task run completed, when this attempt resumes from
    # failure: its stored result is handed back instead of running it again.
    completed_in_attempt: int | None = None

    @classmethod
    def of(
        cls,
        task: TaskLike,
        parameters: dict[str, Any],
        record: TaskRunRecord,
        context: CallContext,
        completed_in_attempt: int | None = None,
    ) -> TaskCall:
        """The call of the flow side's task run `record`."""
        return cls(
            task=task,
            parameters=parameters,
            task_run_id=record.id,
            flow_run_id=record.flow_run_id,
            task_run_name=record.name,
            task_key=record.task_key,
            dynamic_key=record.dynamic_key,
            tags=tuple(record.tags),
            task_inputs=record.task_inputs,
            context=context,
            completed_in_attempt=completed_in_attempt,
        )

    def new_record(self) -> TaskRunRecord:
        """A record of this task run owned by whoever executes the call."""
        return TaskRunRecord(
            id=self.task_run_id,
            flow_run_id=self.flow_run_id,
            name=self.task_run_name,
            task_key=self.task_key,
            dynamic_key=self.dynamic_key,
            tags=list(self.tags),
            task_inputs=dict(self.task_inputs),
            run_count=self.runs_before,
        )
