"""Waiting for flow runs, and pausing, suspending and resuming them from code, under Prefect's
names (`from headrace.flow_runs import pause_flow_run`). See docs/pause-and-resume.md.

A pause is a state change like any other (the API records it through its one state-change
path): Paused while the flow's process waits for the resume, Suspended when the process exits
and a worker runs the flow again once resumed. Each pause of an attempt has a key ("1", "2"...
in call order, or the one given): the next attempt of a suspended run reaches the same
`suspend_flow_run` call, learns from the API that its key was resumed, and goes on with the
input given then.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from headrace.async_dispatch import async_dispatch
from headrace.context import FlowRunContext, flow_run_context, task_run_context
from headrace.exceptions import Abort, FlowPauseTimeout, FlowRunWaitTimeout, Pause

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.schemas.flow_runs import FlowRun

# What the flow waits for: a RunInput or other pydantic model, or a bare type (`int`).
T = TypeVar("T")

# A long poll of the API answers at least this often, so a deadline is kept.
_POLL_SECONDS = 30.0


async def wait_for_flow_run(
    flow_run_id: uuid.UUID | str,
    timeout: float | None = 10800,
    poll_interval: float | None = None,
    client: HeadraceClient | None = None,
    log_states: bool = False,
) -> FlowRun:
    """The run once it is in a final state; `FlowRunWaitTimeout` after `timeout` seconds
    (None: no limit). A coroutine, as in Prefect (`asyncio.run(wait_for_flow_run(id))` from
    sync code). The API is long-polled: `poll_interval` is accepted and not needed."""
    del poll_interval, log_states  # the long poll answers as soon as the run is final
    return await asyncio.to_thread(wait_until_final, flow_run_id, timeout, client)


def wait_until_final(
    flow_run_id: uuid.UUID | str, timeout: float | None, client: HeadraceClient | None = None
) -> FlowRun:
    """`wait_for_flow_run`, blocking this thread."""
    # Here: the client loads httpx and pydantic, which `import headrace` must not.
    from headrace.client import HeadraceClient, flow_runs

    own = client is None
    active = client or HeadraceClient()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            left = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            run = flow_runs.wait(active, flow_run_id, max(0.0, min(left, _POLL_SECONDS)))
            if run.state_type.value in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise FlowRunWaitTimeout(
                    f"flow run {flow_run_id} is still {run.state_name} after {timeout} s"
                )
    finally:
        if own:
            active.close()


# -- pause, suspend, resume --------------------------------------------------------------------


def _running_flow(what: str) -> FlowRunContext:
    if task_run_context.get() is not None:
        raise RuntimeError(f"{what}() pauses flow runs, not task runs: call it in the flow")
    ctx = flow_run_context.get()
    if ctx is None:
        raise RuntimeError(f"{what}() can only be called inside a flow run")
    if not ctx.backend.online:
        raise RuntimeError(f"{what}() needs the headrace API (this run is not being recorded)")
    return ctx


def _client(ctx: FlowRunContext) -> HeadraceClient:
    from headrace.client import HeadraceClient

    return HeadraceClient(ctx.backend.api_url, api_key=ctx.backend.api_key)


def _request(
    ctx: FlowRunContext,
    key: str | None,
    timeout: float,
    wait_for_input: Any,
    *,
    reschedule: bool,
) -> Any:
    from headrace.input import input_model
    from headrace.schemas.pauses import PauseRequest

    # Each pause of an attempt gets the next key, so the next attempt of a suspended run finds
    # its earlier pauses by the same keys.
    pause_key = key or str(int(ctx.next_dynamic_key("headrace.pause")) + 1)
    worker = os.environ.get("HEADRACE_WORKER_ID")
    model = input_model(wait_for_input) if wait_for_input is not None else None
    description = getattr(model, "description", None)
    return PauseRequest(
        pause_key=pause_key,
        timeout_seconds=timeout,
        reschedule=reschedule,
        run_input_schema=model.model_json_schema() if model is not None else None,
        description=description if isinstance(description, str) else None,
        worker_id=uuid.UUID(worker) if worker else None,
    )


def _typed(wait_for_input: type[T] | None, run_input: dict[str, Any] | None) -> T | None:
    """The resume's input validated into the model; a bare type's value for a bare type."""
    from headrace.input import input_model, unwrap

    if wait_for_input is None:
        return None
    return cast(T, unwrap(input_model(wait_for_input).model_validate(run_input or {})))


def _pause(
    wait_for_input: type[T] | None, timeout: float, key: str | None, *, reschedule: bool
) -> tuple[bool, T | None]:
    """Pause the current run; (still paused and must exit, typed input) for a suspension."""
    from headrace.client import flow_runs
    from headrace.errors import Conflict
    from headrace.schemas.pauses import PauseOutcome

    what = "suspend_flow_run" if reschedule else "pause_flow_run"
    ctx = _running_flow(what)
    body = _request(ctx, key, timeout, wait_for_input, reschedule=reschedule)
    with _client(ctx) as client:
        try:
            answer = flow_runs.pause(client, ctx.flow_run_id, body)
        except Conflict as exc:
            raise Abort(f"the API refused to pause the run: {exc.detail}") from None
        if answer.outcome is PauseOutcome.RESUMED:
            return False, _typed(wait_for_input, answer.run_input)
        ctx.backend.flush()
        if reschedule:
            return True, None
        _wait_for_resume(client, ctx.flow_run_id, timeout)
        answer = flow_runs.pause(client, ctx.flow_run_id, body)
    if answer.outcome is not PauseOutcome.RESUMED:  # paused again by someone else meanwhile
        raise Abort("the run was paused again before it went on")
    return False, _typed(wait_for_input, answer.run_input)


def _wait_for_resume(client: HeadraceClient, run_id: uuid.UUID, timeout: float) -> None:
    """Long-poll the API until the run leaves PAUSED; `FlowPauseTimeout` at the timeout, `Pause`
    when it is suspended meanwhile."""
    from headrace._state_types import StateType
    from headrace.client import flow_runs

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        run = flow_runs.wait(client, run_id, min(left, _POLL_SECONDS), paused=True)
        if run.state_type is StateType.RUNNING:
            return
        if run.state_type is StateType.PAUSED and run.state_name == "Suspended":
            # Suspended while it waited (an automation's `suspend-flow-run`): the process
            # exits and a worker runs the flow again once it is resumed.
            raise Pause("the flow run was suspended while paused")
        if run.state_type is not StateType.PAUSED:
            raise Abort(f"the run became {run.state_name} while paused")
    raise FlowPauseTimeout(
        f"the flow run was paused for {timeout:g} s and nobody resumed it (pause_flow_run "
        f"timeout={timeout:g})"
    )


async def apause_flow_run(
    wait_for_input: type[T] | None = None,
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> T | None:
    """`pause_flow_run`, awaited (in an async flow)."""
    del poll_interval
    # In a thread (the context is copied): the wait must not block the flow's event loop.
    paused = await asyncio.to_thread(_pause, wait_for_input, timeout, key, reschedule=False)
    return paused[1]


@overload
def pause_flow_run(
    wait_for_input: None = None,
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> None: ...
@overload
def pause_flow_run(
    wait_for_input: type[T],
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> T: ...
@async_dispatch(apause_flow_run)
def pause_flow_run(
    wait_for_input: type[T] | None = None,
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> T | None:
    """Pause the current flow run (Paused) and wait, in this process, until it is resumed; the
    validated `wait_for_input` (a `headrace.input.RunInput` subclass) given by the resume, or
    None. Not resumed within `timeout` seconds: `FlowPauseTimeout`, and the run ends Failed.
    The API is long-polled: `poll_interval` is accepted and not needed."""
    del poll_interval
    return _pause(wait_for_input, timeout, key, reschedule=False)[1]


async def asuspend_flow_run(
    wait_for_input: type[T] | None = None,
    flow_run_id: uuid.UUID | str | None = None,
    timeout: float = 3600,
    key: str | None = None,
) -> T | None:
    """`suspend_flow_run`, awaited (in an async flow)."""
    if _another_run(flow_run_id):
        await asyncio.to_thread(_suspend_another, flow_run_id, wait_for_input, timeout, key)
        return None
    _suspendable()
    must_exit, run_input = await asyncio.to_thread(
        _pause, wait_for_input, timeout, key, reschedule=True
    )
    if must_exit:
        raise Pause("the flow run is suspended until it is resumed")
    return run_input


def _suspendable() -> None:
    ctx = _running_flow("suspend_flow_run")
    if ctx.info is None or ctx.info.deployment_id is None:
        raise RuntimeError(
            "suspend_flow_run() needs a run of a deployment (a worker starts it again once "
            "resumed); use pause_flow_run() in a script"
        )


def _another_run(flow_run_id: uuid.UUID | str | None) -> bool:
    """Does `flow_run_id` name a run other than the one this code runs in?"""
    if flow_run_id is None:
        return False
    ctx = flow_run_context.get()
    return ctx is None or str(ctx.flow_run_id) != str(flow_run_id)


def _suspend_another(
    flow_run_id: Any, wait_for_input: Any, timeout: float, key: str | None
) -> None:
    """Suspend the run `flow_run_id` from outside: Suspended at once, its worker stops its
    process; `RuntimeError` with the API's reason when it cannot be."""
    from headrace.client import HeadraceClient, flow_runs
    from headrace.errors import Conflict
    from headrace.input import input_model
    from headrace.schemas.pauses import SuspendRequest

    model = input_model(wait_for_input) if wait_for_input is not None else None
    description = getattr(model, "description", None)
    body = SuspendRequest(
        pause_key=key,
        timeout_seconds=timeout,
        run_input_schema=model.model_json_schema() if model is not None else None,
        description=description if isinstance(description, str) else None,
    )
    ctx = flow_run_context.get()
    with _client(ctx) if ctx is not None and ctx.backend.online else HeadraceClient() as client:
        try:
            flow_runs.suspend(client, flow_run_id, body)
        except Conflict as exc:
            raise RuntimeError(
                f"flow run {flow_run_id} cannot be suspended: {exc.detail}"
            ) from None


@async_dispatch(asuspend_flow_run)
def suspend_flow_run(
    wait_for_input: type[T] | None = None,
    flow_run_id: uuid.UUID | str | None = None,
    timeout: float = 3600,
    key: str | None = None,
) -> T | None:
    """Suspend the current flow run: it becomes Suspended and this process exits; once
    resumed, a worker runs the flow again as its next attempt, where this call returns the
    validated input given by the resume (tasks with persisted results are not run again).
    The run must come from a deployment (only a worker can start it again).

    With `flow_run_id` of another run (a Running run of a deployment), suspend that one: it
    becomes Suspended at once, its worker stops its process, and this call returns None."""
    if _another_run(flow_run_id):
        _suspend_another(flow_run_id, wait_for_input, timeout, key)
        return None
    _suspendable()
    must_exit, run_input = _pause(wait_for_input, timeout, key, reschedule=True)
    if must_exit:
        raise Pause("the flow run is suspended until it is resumed")
    return run_input


def resume_flow_run(
    flow_run_id: uuid.UUID | str,
    run_input: dict[str, Any] | None = None,
    client: HeadraceClient | None = None,
) -> FlowRun:
    """Resume a Paused or Suspended run with `run_input` (checked by the API against the
    RunInput the run waits for: `ApiError` 422 naming the field, the run stays paused)."""
    from headrace.client import HeadraceClient, flow_runs

    if client is not None:
        return flow_runs.resume(client, flow_run_id, run_input)
    with HeadraceClient() as own:
        return flow_runs.resume(own, flow_run_id, run_input)


__all__ = [
    "apause_flow_run",
    "asuspend_flow_run",
    "pause_flow_run",
    "resume_flow_run",
    "suspend_flow_run",
    "wait_for_flow_run",
]
