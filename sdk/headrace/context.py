"""What the engine knows about the run being executed, carried in context variables.

Context variables (not thread-locals) so that a flow's context follows its tasks into the task
runner's threads (the runner copies the context) and into asyncio tasks.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headrace.exceptions import MissingContextError

if TYPE_CHECKING:
    from headrace.calls import CallContext, FlowLike, TaskLike, TaskRunnerLike
    from headrace.ports import FlowRunInfo
    from headrace.ports.backend import Backend
    from headrace.reporter import TaskRunRecord
    from headrace.states import State


@dataclass(eq=False)
class FlowRunContext:
    """One attempt of a flow run in progress."""

    flow: FlowLike
    flow_run_id: uuid.UUID
    flow_run_name: str
    parameters: dict[str, Any]
    backend: Backend
    task_runner: TaskRunnerLike
    log_prints: bool
    # What the attempt's task calls carry of this context (see headrace.calls).
    call_context: CallContext
    run_count: int = 1
    # The run as the API knows it (tags, deployment, expected start) for `headrace.runtime`.
    info: FlowRunInfo | None = None
    parent_flow_run_id: uuid.UUID | None = None
    # Task runs of this flow run, to name the failed ones the flow did not handle.
    task_runs: list[TaskRunRecord] = field(default_factory=list)
    handled: set[uuid.UUID] = field(default_factory=set)
    # Futures of the task runs submitted in this attempt: the attempt ends when they are done.
    submitted: list[tuple[TaskRunRecord, concurrent.futures.Future[State[Any]]]] = field(
        default_factory=list
    )
    # Resuming from failure: the task runs that completed in an earlier attempt, by id, with
    # the attempt they completed in; their stored results are handed back instead.
    completed_before: dict[uuid.UUID, int] = field(default_factory=dict)
    _counters: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_dynamic_key(self, task_key: str) -> str:
        """0, 1, 2... per task within this attempt: tells apart the runs of one task, and
        gives a run the same identity in every attempt that reaches it in the same order."""
        counter = self._counters.get(task_key)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(task_key, itertools.count())
        return str(next(counter))  # itertools.count is atomic under the GIL

    def add_task_run(self, record: TaskRunRecord) -> None:
        self.task_runs.append(record)

    def mark_handled(self, task_run_id: uuid.UUID) -> None:
        """The user saw this task run's outcome (state, exception or allow_failure)."""
        self.handled.add(task_run_id)

    @property
    def flow_run(self) -> FlowRunInfo | None:
        """The run as the API knows it (`.id`, `.name`, `.parameters`, `.tags`), Prefect's name."""
        return self.info

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """The flow run in progress here, or None (Prefect's `FlowRunContext.get()`)."""
        return flow_run_context.get()


@dataclass(eq=False)
class TaskRunContext:
    """One task run in progress."""

    task: TaskLike
    record: TaskRunRecord
    log_prints: bool
    parameters: dict[str, Any]

    @property
    def task_run(self) -> TaskRunRecord:
        """The task run (`.id`, `.name`, `.run_count`, `.tags`), under Prefect's name."""
        return self.record

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """The task run in progress here, or None (Prefect's `TaskRunContext.get()`)."""
        return task_run_context.get()


@dataclass(frozen=True)
class NamingContext:
    """A flow run about to be created, while its `flow_run_name` callable runs: what
    `headrace.runtime.flow_run` can tell about it already."""

    flow: FlowLike
    parameters: dict[str, Any]
    tags: tuple[str, ...]


flow_run_context: ContextVar[FlowRunContext | None] = ContextVar("headrace_flow_run", default=None)
naming_context: ContextVar[NamingContext | None] = ContextVar("headrace_naming", default=None)
task_run_context: ContextVar[TaskRunContext | None] = ContextVar("headrace_task_run", default=None)


def get_run_context() -> TaskRunContext | FlowRunContext:
    """The innermost run in progress; raises outside of a flow or task run."""
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return task_ctx
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx
    raise MissingContextError("no flow or task run is in progress here")
