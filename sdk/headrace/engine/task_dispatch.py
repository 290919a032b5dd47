"""The flow side of task runs: a new task run of the flow run, the call it receives (futures of
upstream runs replaced by their results), and where that call runs: at once for a direct call,
in the flow's task runner for `submit` and `map`.

A submitted call crosses the runner's boundary as a `TaskCall` and comes back as a final state,
which is folded into the flow's own record; nothing on the other side touches that record.
A call whose upstream futures are not done yet is handed to the runner when they are, so no
runner worker is held waiting. The flow's record takes the final state when the future is read
and, for every submitted run, when the attempt ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import itertools
from collections.abc import Callable, Iterable
from typing import Any, Literal

from headrace import states as st
from headrace.calls import TaskCall, TaskLike
from headrace.context import FlowRunContext, TaskRunContext, task_run_context
from headrace.engine.task_call import task_run_id
from headrace.engine.task_engine import TaskRunEngine, arun_attempts, run_attempts
from headrace.exceptions import UpstreamFailed
from headrace.futures import (
    HeadraceFuture,
    fold_state,
    pending_futures,
    resolve_inputs,
    wait_for_upstream,
)
from headrace.logging import run_logger
from headrace.reporter import TaskRunRecord
from headrace.result_storage import store_for
from headrace.resume import REUSED, ROLLED_BACK
from headrace.run_names import format_run_name
from headrace.states import State
from headrace.tagging import merge_tags
from headrace.transactions import Transaction, get_transaction

ReturnType = Literal["result", "state"]


def new_task_run(
    flow_ctx: FlowRunContext,
    name: str,
    task_key: str,
    tags: Iterable[str],
    *,
    pending: bool,
    named_by: tuple[TaskLike, dict[str, Any]] | None = None,
) -> TaskRunRecord:
    """A task run of this flow run; recorded as Pending when it may wait before it starts
    (submitted to the task runner). A direct call starts at once: its first state is Running,
    which spares the API a third of the state rows of the most common case. `named_by`: the
    task and parameters whose `task_run_name` names the run."""
    dynamic_key = flow_ctx.next_dynamic_key(task_key)
    record = TaskRunRecord(
        id=task_run_id(flow_ctx.flow_run_id, task_key, dynamic_key),
        flow_run_id=flow_ctx.flow_run_id,
        name=f"{name}-{dynamic_key}",
        task_key=task_key,
        dynamic_key=dynamic_key,
        tags=merge_tags(tags),
    )
    if named_by is not None and named_by[0].task_run_name is not None:
        record.name = _custom_name(record, *named_by)
    flow_ctx.add_task_run(record)
    if pending:
        flow_ctx.backend.task_runs.set_state(record, st.Pending())
    return record


def _custom_name(record: TaskRunRecord, task: TaskLike, parameters: dict[str, Any]) -> str:
    """The task's `task_run_name` for this run; a function may read `headrace.runtime`."""
    template = task.task_run_name
    assert template is not None
    token = task_run_context.set(TaskRunContext(task, record, False, parameters))
    try:
        return format_run_name(template, parameters, f"task {task.name!r}: task_run_name")
    finally:
        task_run_context.reset(token)


def resolve_call(
    task: TaskLike,
    parameters: dict[str, Any],
    wait_for: Iterable[Any] | None,
    flow_ctx: FlowRunContext,
    record: TaskRunRecord,
) -> TaskCall | State[Any]:
    """The call of this task run, with upstream futures replaced by their results (waiting for
    them); a final state instead when the task must not run (an upstream did not complete)."""
    try:
        if wait_for:
            record.task_inputs["wait_for"] = wait_for_upstream(wait_for, flow_ctx)
        resolved, edges = resolve_inputs(parameters, flow_ctx)
    except UpstreamFailed as exc:
        return _report(flow_ctx, record, st.Pending(str(exc), exception=exc, name="NotReady"))
    except BaseException as exc:
        _report(flow_ctx, record, st.Crashed(f"interrupted by {type(exc).__name__}", exception=exc))
        raise
    record.task_inputs.update(edges)
    return TaskCall.of(
        task, resolved, record, flow_ctx.call_context, flow_ctx.completed_before.get(record.id)
    )


def _report(flow_ctx: FlowRunContext, record: TaskRunRecord, state: State[Any]) -> State[Any]:
    if state.is_final():
        record.end_time = state.timestamp
    flow_ctx.backend.task_runs.set_state(record, state)
    return state


# -- a direct call: runs at once, in the caller's thread -------------------------------------------


def run_task(
    task: TaskLike,
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    *,
    return_type: ReturnType = "result",
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run a sync task within a flow run; its result (or its state)."""
    record = new_task_run(
        flow_ctx, task.name, task.task_key, task.tags, pending=False, named_by=(task, parameters)
    )
    call = resolve_call(task, parameters, wait_for, flow_ctx, record)
    engine = None
    if isinstance(call, TaskCall):
        # No runner boundary here: the engine may update the flow's own record.
        engine = TaskRunEngine(call, flow_ctx.backend, record)
        run_attempts(engine)
    join_transaction(task, flow_ctx, record, record.state)
    return _outcome(flow_ctx, record, return_type, engine)


async def arun_task(
    task: TaskLike,
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    *,
    return_type: ReturnType = "result",
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run an async task within a flow run (the same steps as `run_task`, awaited)."""
    record = new_task_run(
        flow_ctx, task.name, task.task_key, task.tags, pending=False, named_by=(task, parameters)
    )
    # Waiting for upstream futures blocks: keep it off the event loop.
    call = await asyncio.to_thread(resolve_call, task, parameters, wait_for, flow_ctx, record)
    engine = None
    if isinstance(call, TaskCall):
        engine = TaskRunEngine(call, flow_ctx.backend, record)
        await arun_attempts(engine)
    join_transaction(task, flow_ctx, record, record.state)
    return _outcome(flow_ctx, record, return_type, engine)


def _outcome(
    flow_ctx: FlowRunContext,
    record: TaskRunRecord,
    return_type: ReturnType,
    engine: TaskRunEngine | None,
) -> Any:
    state = record.state or st.Pending()
    if engine is not None and engine.returned_state is not None and return_type == "result":
        # The task returned a state: the caller gets that state as its value, as in Prefect
        # (a Failed one does not raise here), and has thereby seen the outcome.
        flow_ctx.mark_handled(record.id)
        return engine.returned_state
    if return_type == "state" or not state.is_completed():
        # The state or the exception reaches the caller: from here on, it is theirs to handle.
        flow_ctx.mark_handled(record.id)
    if return_type == "state":
        return state
    return state.result()


# -- a submitted call: runs in the flow's task runner ----------------------------------------------


def submit_task(
    task: TaskLike,
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    wait_for: Iterable[Any] | None = None,
) -> HeadraceFuture[Any]:
    """Hand a task run to the flow's task runner; its future resolves to the final state."""
    record = new_task_run(
        flow_ctx, task.name, task.task_key, task.tags, pending=True, named_by=(task, parameters)
    )
    launch = functools.partial(_launch, task, parameters, wait_for, flow_ctx, record)
    upstream = pending_futures(parameters, wait_for)
    launched = launch() if not upstream else _launch_later(launch, upstream)
    future = join_transaction_when_done(task, flow_ctx, record, launched)
    flow_ctx.submitted.append((record, future))
    return HeadraceFuture(record, future, flow_ctx)


def _launch(
    task: TaskLike,
    parameters: dict[str, Any],
    wait_for: Iterable[Any] | None,
    flow_ctx: FlowRunContext,
    record: TaskRunRecord,
) -> concurrent.futures.Future[State[Any]]:
    future: concurrent.futures.Future[State[Any]]
    try:
        call = resolve_call(task, parameters, wait_for, flow_ctx, record)
        if isinstance(call, TaskCall):
            return flow_ctx.task_runner.submit(call)
        future = concurrent.futures.Future()
        future.set_result(call)
    except BaseException as exc:
        future = concurrent.futures.Future()
        future.set_exception(exc)
    return future


def _launch_later(
    launch: Callable[[], concurrent.futures.Future[State[Any]]],
    upstream: list[HeadraceFuture[Any]],
) -> concurrent.futures.Future[State[Any]]:
    """Launch once every upstream run is done, from whichever thread finishes the last one, in
    the flow's context as it is now (tags, print capture, the flow run for nested tasks)."""
    later: concurrent.futures.Future[State[Any]] = concurrent.futures.Future()

    def relay(launched: concurrent.futures.Future[State[Any]]) -> None:
        exc = launched.exception()
        if exc is not None:
            later.set_exception(exc)
        else:
            later.set_result(launched.result())

    def launch_and_relay() -> None:
        launch().add_done_callback(relay)

    context = contextvars.copy_context()
    _when_all_done((f._future for f in upstream), lambda: context.run(launch_and_relay))
    return later


def _when_all_done(futures: Iterable[concurrent.futures.Future[Any]], then: Any) -> None:
    """Call `then()` once, in the thread that finishes the last of `futures`."""
    futures = list(futures)
    count = len(futures)
    finished = itertools.count(1)  # next() on it is atomic under the GIL

    def one_done(_: object) -> None:
        if next(finished) == count:
            then()

    for future in futures:
        future.add_done_callback(one_done)


# -- transactions: a completed task run commits, or rolls back with its transaction ----------------


def join_transaction(
    task: TaskLike, flow_ctx: FlowRunContext, record: TaskRunRecord, state: State[Any] | None
) -> None:
    """A task run that completed (not from the cache) joins the transaction in progress, or
    commits on its own when there is none."""
    enclosing = get_transaction()
    if enclosing is not None:
        _join(enclosing, task, flow_ctx, record, state)
    elif task.on_commit_hooks and _committable(state):
        _task_transaction(task, flow_ctx, record).commit()


def join_transaction_when_done(
    task: TaskLike,
    flow_ctx: FlowRunContext,
    record: TaskRunRecord,
    future: concurrent.futures.Future[State[Any]],
) -> concurrent.futures.Future[State[Any]]:
    """`join_transaction` for a submitted run: its transaction waits for it before it ends.
    Outside a transaction, the future to hand out: one done once its commit hooks ran."""
    enclosing = get_transaction()
    if enclosing is not None:

        def join() -> None:
            fold_state(record, future)
            _join(enclosing, task, flow_ctx, record, record.state)

        enclosing.before_end(join)
        return future
    if not task.on_commit_hooks:
        return future
    committed: concurrent.futures.Future[State[Any]] = concurrent.futures.Future()

    def commit_then_relay(done: concurrent.futures.Future[State[Any]]) -> None:
        exc = done.exception()
        if exc is not None:
            committed.set_exception(exc)
            return
        state = done.result()
        if _committable(state):
            _task_transaction(task, flow_ctx, record).commit()
        committed.set_result(state)

    future.add_done_callback(commit_then_relay)
    return committed


def _join(
    enclosing: Transaction,
    task: TaskLike,
    flow_ctx: FlowRunContext,
    record: TaskRunRecord,
    state: State[Any] | None,
) -> None:
    if _committable(state):
        enclosing.add_child(_task_transaction(task, flow_ctx, record))


def _committable(state: State[Any] | None) -> bool:
    # A cached or reused run did not run: it has nothing to commit.
    return state is not None and state.is_completed() and state.name not in ("Cached", REUSED)


def _task_transaction(
    task: TaskLike, flow_ctx: FlowRunContext, record: TaskRunRecord
) -> Transaction:
    def rolled_back(_: Transaction) -> None:
        # As in Prefect, a rolled-back run leaves no result behind: a new run of the same
        # work is not served the rolled-back one from the cache.
        data = record.state.data if record.state is not None else None
        key = (data or {}).get("result_key")
        if isinstance(key, str):
            try:
                store_for(task.result_storage, flow_ctx.backend.results).delete(key)
            except Exception as exc:
                logger.warning("could not forget the rolled-back result (%s)", exc)
        state = st.Completed(name=ROLLED_BACK, message="rolled back with its transaction")
        _report(flow_ctx, record, state)

    # Rollback hooks run last to first: the task's own hooks, then its state.
    logger = run_logger(record.flow_run_id, record.id, f"Task run {record.name!r}")
    return Transaction(
        record.cache_key,
        on_commit=list(task.on_commit_hooks),
        on_rollback=[rolled_back, *task.on_rollback_hooks],
        logger=logger,
    )


# -- the end of a flow run attempt -----------------------------------------------------------------


def wait_submitted(flow_ctx: FlowRunContext) -> None:
    """Wait until every task run submitted in this attempt is done, folding their final states
    into the flow's records. Tasks may submit more while this waits: they are appended."""
    submitted = flow_ctx.submitted
    index = 0
    while index < len(submitted):
        fold_state(*submitted[index])
        index += 1


async def await_submitted(flow_ctx: FlowRunContext) -> None:
    """`wait_submitted` for an async flow: awaited, so the flow's timeout covers it."""
    loop = asyncio.get_running_loop()
    while pending := [f for _, f in flow_ctx.submitted if not f.done()]:
        all_done: asyncio.Future[None] = loop.create_future()

        def wake(all_done: asyncio.Future[None] = all_done) -> None:
            if not all_done.done():
                all_done.set_result(None)

        def wake_loop(wake: Any = wake) -> None:
            # A closed loop: the flow stopped waiting (its timeout), nobody is left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake)

        _when_all_done(pending, wake_loop)
        await all_done
