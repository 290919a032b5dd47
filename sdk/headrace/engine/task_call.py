"""Running a task call (`headrace.calls.TaskCall`), in this process or another.

A call holds no live object of the flow run (no lock, reporter, HTTP client or shared record): the
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
from typing import TYPE_CHECKING, Any

from headrace.caching import flow_parameters_key
from headrace.calls import CallContext, TaskCall
from headrace.engine.task_engine import TaskRunEngine, arun_attempts, run_attempts
from headrace.ports.backend import (
    Backend,
    api_backend,
    get_current_backend,
    offline_backend,
    set_backend,
)

if TYPE_CHECKING:
    from headrace.states import State

__all__ = [
    "TaskCall",
    "backend_for",
    "call_context",
    "run_call",
    "run_call_elsewhere",
    "task_run_id",
]


def task_run_id(flow_run_id: uuid.UUID, task_key: str, dynamic_key: str) -> uuid.UUID:
    """The id of a task run, derived from its stable identity: an attempt of the flow run that
    reaches the same call again reports the same task run, and a re-sent report changes
    nothing twice."""
    return uuid.uuid5(flow_run_id, f"{task_key}|{dynamic_key}")


def call_context(
    backend: Backend,
    log_prints: bool,
    flow_parameters: dict[str, Any] | None = None,
    result_storage: str | None = None,
    *,
    resume: bool = False,
    result_serializer: Any = None,
) -> CallContext:
    """The snapshot of a flow run attempt's context for its task calls."""
    # Here: settings load pydantic-settings, which `import headrace` must not.
    from headrace.settings import client_settings

    return CallContext(
        api_url=backend.api_url,
        api_key=backend.api_key,
        online=backend.online,
        log_prints=log_prints,
        result_max_bytes=client_settings().result_max_bytes,
        flow_parameters_key=flow_parameters_key(flow_parameters or {}),
        result_storage=result_storage,
        resume=resume,
        result_serializer=result_serializer,
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


def run_pickled_call(pickled: bytes) -> State[Any]:
    """`run_call_elsewhere` for a call sent by cloudpickle (a process pool's worker)."""
    import pickle

    call: TaskCall = pickle.loads(pickled)  # what cloudpickle wrote, plain pickle reads
    return run_call_elsewhere(call)


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
    if not context.online or context.api_url is None:
        return offline_backend(context.api_url)
    # Here: the client loads httpx and pydantic; an offline call never needs them.
    from headrace.client import HeadraceClient

    api_key = context.api_key if context.api_key is not None else os.environ.get("HEADRACE_API_KEY")
    return api_backend(HeadraceClient(context.api_url, api_key=api_key))
