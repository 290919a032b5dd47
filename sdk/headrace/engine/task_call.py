"""A task call: everything a task runner needs to run one task run, in this process or another.

It holds no live object of the flow run (no lock, reporter, HTTP client or shared record): the
task (pickled by reference to its module-level function, with its options), its resolved
parameters, the task run's stable identity, and a snapshot of the flow's context. Wherever it
runs, `run_call` rebuilds what it needs from that snapshot, runs the task run through its states
(reporting them to the API) and returns the final state; the flow side folds that state into its
own record.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headrace.context import CallContext
from headrace.engine.backend import Backend, get_current_backend, set_backend
from headrace.engine.task_engine import TaskRunEngine, arun_attempts, run_attempts
from headrace.reporter import TaskRunRecord

if TYPE_CHECKING:
    from headrace.states import State
    from headrace.tasks import Task


def task_run_id(flow_run_id: uuid.UUID, task_key: str, dynamic_key: str) -> uuid.UUID:
    """The id of a task run, derived from its stable identity: an attempt of the flow run that
    reaches the same call again reports the same task run, and a re-sent report changes
    nothing twice."""
    return uuid.uuid5(flow_run_id, f"{task_key}|{dynamic_key}")


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One task run to execute; pickles as long as the task's function is importable by name
    and its parameters pickle."""

    task: Task[..., Any]
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

    @classmethod
    def of(
        cls,
        task: Task[..., Any],
        parameters: dict[str, Any],
        record: TaskRunRecord,
        context: CallContext,
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
        )


def call_context(backend: Backend, log_prints: bool) -> CallContext:
    """The snapshot of a flow run attempt's context for its task calls."""
    from headrace.settings import client_settings

    return CallContext(
        api_url=backend.api_url,
        api_key=backend.api_key,
        online=backend.online,
        log_prints=log_prints,
        result_max_bytes=client_settings().result_max_bytes,
    )


def run_call(call: TaskCall) -> State[Any]:
    """Run a task call to its final state in this process: what a task runner executes."""
    engine = TaskRunEngine(call, backend_for(call.context), call.new_record())
    if call.task.isasync:
        done: State[Any] = asyncio.run(arun_attempts(engine))
        return done
    return run_attempts(engine)


def run_call_elsewhere(call: TaskCall) -> State[Any]:
    """`run_call` for a runner whose workers are other processes or hosts: the task run's
    states and logs are sent before the state is returned (the worker may stop at any time)."""
    try:
        return run_call(call)
    finally:
        backend_for(call.context).flush()


_backends_lock = threading.Lock()


def backend_for(context: CallContext) -> Backend:
    """The backend that records this call: the flow's own when the call runs in the flow's
    process, else one made from the snapshot (once per process and API URL)."""
    current = get_current_backend()
    if current is not None and current.api_url == context.api_url:
        return current
    with _backends_lock:
        current = get_current_backend()
        if current is not None and current.api_url == context.api_url:
            return current
        backend = _new_backend(context)
        # The process's backend: run loggers of the task's code hand it their lines.
        set_backend(backend)
        return backend


def _new_backend(context: CallContext) -> Backend:
    from headrace.engine.backend import api_backend, offline_backend

    if not context.online or context.api_url is None:
        return offline_backend(context.api_url)
    from headrace.client import HeadraceClient

    api_key = context.api_key if context.api_key is not None else os.environ.get("HEADRACE_API_KEY")
    return api_backend(HeadraceClient(context.api_url, api_key=api_key))
