"""Running a task run through its states: upstream inputs, concurrency slots, cache, attempts
with retries and timeouts, result persistence, hooks.

The decisions live in `TaskRunEngine`; `run_task` and `arun_task` are the two short loops (sync
and async) that call the user's function between them. Task runs are orchestrated here on the
client: states go to the reporter, which sends them to the API in batches.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from headrace import states as st
from headrace.context import FlowRunContext, TaskRunContext, task_run_context
from headrace.exceptions import ResultError, RunTimeout, UpstreamFailed
from headrace.futures import HeadraceFuture, resolve_inputs, wait_for_upstream
from headrace.reporter import TaskRunRecord
from headrace.states import State
from headrace.tagging import merge_tags

if TYPE_CHECKING:
    from headrace.logging import RunLogger
    from headrace.tasks import Task

# "result" and "state" are what callers asked for; "submitted" is a state for a future, whose
# failure counts as handled only once the user looks at the future.
ReturnType = Literal["result", "state", "submitted"]


def new_task_run(
    flow_ctx: FlowRunContext, name: str, task_key: str, tags: Iterable[str], *, pending: bool
) -> TaskRunRecord:
    """A task run of this flow run; recorded as Pending when it may wait before it starts
    (submitted to the task runner). A direct call starts at once: its first state is Running,
    which spares the API a third of the state rows of the most common case."""
    dynamic_key = flow_ctx.next_dynamic_key(task_key)
    record = TaskRunRecord(
        id=uuid.uuid4(),
        flow_run_id=flow_ctx.flow_run_id,
        name=f"{name}-{dynamic_key}",
        task_key=task_key,
        dynamic_key=dynamic_key,
        tags=merge_tags(tags),
    )
    flow_ctx.add_task_run(record)
    if pending:
        flow_ctx.backend.task_runs.set_state(record, st.Pending())
    return record


class TaskRunEngine:
    """The state machine of one task run."""

    def __init__(
        self,
        task: Task[..., Any],
        parameters: dict[str, Any],
        flow_ctx: FlowRunContext,
        record: TaskRunRecord | None = None,
        wait_for: Iterable[Any] | None = None,
    ) -> None:
        self.task = task
        self.flow_ctx = flow_ctx
        self.backend = flow_ctx.backend
        self.record = record or new_task_run(
            flow_ctx, task.name, task.task_key, task.tags, pending=False
        )
        self.parameters = parameters
        self.wait_for = wait_for
        self.state: State[Any] = self.record.state or st.Pending()
        self.label = f"Task run {self.record.name!r}"
        self._storage_key: str | None = None
        self._slots: Any = None
        self._logger: RunLogger | None = None

    # -- before the first attempt ---------------------------------------------------------------

    def prepare(self) -> State[Any] | None:
        """Resolve inputs, take concurrency slots, look up the cache. Returns a final state
        when the function must not run (upstream failed, cache hit)."""
        try:
            if self.wait_for:
                upstream = wait_for_upstream(self.wait_for, self.flow_ctx)
                self.record.task_inputs["wait_for"] = upstream
            self.parameters, edges = resolve_inputs(self.parameters, self.flow_ctx)
            self.record.task_inputs.update(edges)
        except UpstreamFailed as exc:
            return self._set(st.Failed(str(exc), exception=exc, name="NotReady"))
        cached = self._cache_lookup()
        if cached is None:
            self._take_slots()  # a cache hit runs nothing, so it needs no slot
        return cached

    def _take_slots(self) -> None:
        if not self.record.tags:
            return
        limited = self.backend.slots.limited_tags().intersection(self.record.tags)
        if limited:
            from headrace.concurrency import acquire_slots

            self._slots = acquire_slots(
                self.backend.slots, sorted(limited), self.record.id, on_wait=self._set
            )

    def release_slots(self) -> None:
        if self._slots is not None:
            self._slots.release()
            self._slots = None

    def _cache_lookup(self) -> State[Any] | None:
        policy = self.task.cache_policy_in_effect()
        if policy is None:
            return None
        from headrace.caching import CacheContext
        from headrace.results import deserialize, storage_key

        context = CacheContext(
            self.task.task_key, self.task.name, self.task.fn, self.flow_ctx.flow_run_id
        )
        try:
            key = policy.compute_key(context, self.parameters)
        except Exception as exc:
            self.logger().warning("not cached: cannot compute a cache key (%s)", exc)
            return None
        if key is None:
            return None
        self.record.cache_key = key[:1000]
        self._storage_key = storage_key(key)
        if self.task.refresh_cache:
            return None
        found = self.backend.results.read(self._storage_key)
        if found is None:
            return None
        serializer, data = found
        try:
            value = deserialize(data, serializer)
        except Exception as exc:
            self.logger().warning("ignoring a cached result that cannot be read (%s)", exc)
            return None
        return self._set(st.Cached(value, data={"result_key": self._storage_key}))

    # -- attempts -----------------------------------------------------------------------------

    def begin_attempt(self) -> None:
        record = self.record
        record.run_count += 1
        if record.start_time is None:
            record.start_time = datetime.now(UTC)
        self._set(st.Running() if record.run_count == 1 else st.Retrying())

    def call_args(self) -> tuple[list[Any], dict[str, Any]]:
        return self.task.call_args(self.parameters)

    def handle_success(self, result: Any) -> None:
        if isinstance(result, State):
            # A task may return a state to decide its own outcome.
            self._set(result)
            return
        try:
            data = self._persist(result)
        except ResultError as exc:
            # Retrying would not make the result storable: fail now, saying how to fix it.
            self._set(st.Failed(st.exception_message(exc, with_traceback=False), exception=exc))
            return
        self._set(st.Completed(result, data=data))

    def handle_exception(self, exc: Exception) -> float | None:
        """Record the failed attempt; the delay before the next one, or None if final."""
        if isinstance(exc, RunTimeout):
            failed = st.TimedOut(str(exc), exception=exc)
        else:
            failed = st.Failed(st.exception_message(exc), exception=exc)
        task = self.task
        if self.record.run_count <= task.retries and self._should_retry(failed):
            from headrace.retries import retry_delay

            delay = retry_delay(
                task.retry_delay_seconds,
                task.retries,
                self.record.run_count - 1,
                task.retry_jitter_factor,
            )
            self.logger().warning(
                "attempt %d failed (%s); retrying in %.3g s",
                self.record.run_count,
                failed.message.splitlines()[0] if failed.message else failed.name,
                delay,
            )
            message = f"{failed.name}: {failed.message}" if failed.message else failed.name
            self._set(st.AwaitingRetry(message, data={"retry_in_seconds": delay}))
            return delay
        self.logger().error("failed: %s", failed.message.splitlines()[0] if failed.message else "")
        self._set(failed)
        return None

    def crash(self, exc: BaseException) -> None:
        """Interrupted (Ctrl-C, SystemExit, cancellation, an outer timeout): Crashed."""
        self._set(st.Crashed(f"interrupted by {type(exc).__name__}", exception=exc))

    def _should_retry(self, failed: State[Any]) -> bool:
        condition = self.task.retry_condition_fn
        if condition is None:
            return True
        try:
            return bool(condition(self.task, self.record, failed))
        except Exception:
            self.logger().exception("retry_condition_fn raised; not retrying")
            return False

    def _persist(self, result: Any) -> dict[str, Any] | None:
        task = self.task
        persist = (
            task.persist_result if task.persist_result is not None else bool(self._storage_key)
        )
        if not persist:
            return None
        from headrace.results import serialize, storage_key
        from headrace.settings import client_settings

        key = self._storage_key or storage_key(f"task_run:{self.record.id}")
        data = serialize(
            result, task.result_serializer, self.label, client_settings().result_max_bytes
        )
        expires_at = (
            datetime.now(UTC) + task.cache_expiration if task.cache_expiration is not None else None
        )
        try:
            self.backend.results.write(key, task.result_serializer, data, expires_at)
        except Exception as exc:  # the run completed; only its cache entry is lost
            self.logger().warning("could not store the result (%s)", exc)
            return None
        return {"result_key": key}

    # -- the end ------------------------------------------------------------------------------

    def finish(self) -> State[Any]:
        from headrace.hooks import run_hooks

        self.record.end_time = datetime.now(UTC)
        state = self.state
        hooks = self.task.on_completion if state.is_completed() else self.task.on_failure
        if hooks and (state.is_completed() or state.is_failed()):
            run_hooks(hooks, self.logger(), self.task, self.record, state)
        return state

    def outcome(self, return_type: ReturnType) -> Any:
        if return_type == "submitted":
            return self.state
        if return_type == "state":
            self.flow_ctx.mark_handled(self.record.id)
            return self.state
        if not self.state.is_completed():
            # The exception reaches the caller: from here on, it is theirs to handle.
            self.flow_ctx.mark_handled(self.record.id)
        return self.state.result()

    # -- context of the user's code -----------------------------------------------------------

    def enter_run_context(self, stack: ExitStack) -> None:
        record = self.record
        ctx = TaskRunContext(self.task, record, self._log_prints(), self.parameters)
        token = task_run_context.set(ctx)
        stack.callback(task_run_context.reset, token)
        if self.task.log_prints is None:
            return  # prints follow the flow's setting, attributed to the flow run
        from headrace import log_prints

        if self.task.log_prints:
            from headrace.logging import PRINT_LOGGER, run_logger

            printer = run_logger(
                record.flow_run_id, record.id, self.label, logger_name=PRINT_LOGGER
            )
            stack.enter_context(log_prints.capture_prints(printer))
        else:
            stack.enter_context(log_prints.no_capture())

    def _log_prints(self) -> bool:
        own = self.task.log_prints
        return self.flow_ctx.log_prints if own is None else own

    def logger(self) -> RunLogger:
        if self._logger is None:
            from headrace.logging import run_logger

            self._logger = run_logger(self.record.flow_run_id, self.record.id, self.label)
        return self._logger

    def _set(self, state: State[Any]) -> State[Any]:
        self.state = state
        self.backend.task_runs.set_state(self.record, state)
        return state


def run_task(
    task: Task[..., Any],
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    *,
    return_type: ReturnType = "result",
    record: TaskRunRecord | None = None,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run a sync task within a flow run."""
    from headrace.timeouts import timeout

    engine = TaskRunEngine(task, parameters, flow_ctx, record, wait_for)
    try:
        if engine.prepare() is None:
            with ExitStack() as stack:
                engine.enter_run_context(stack)
                args, kwargs = engine.call_args()
                while True:
                    engine.begin_attempt()
                    try:
                        with timeout(task.timeout_seconds, engine.label):
                            result = task.fn(*args, **kwargs)
                    except Exception as exc:
                        delay = engine.handle_exception(exc)
                        if delay is None:
                            break
                        time.sleep(delay)
                    else:
                        engine.handle_success(result)
                        break
    except BaseException as exc:
        engine.crash(exc)
        raise
    finally:
        engine.release_slots()
    engine.finish()
    return engine.outcome(return_type)


async def arun_task(
    task: Task[..., Any],
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    *,
    return_type: ReturnType = "result",
    record: TaskRunRecord | None = None,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run an async task within a flow run (the same steps as `run_task`, awaited)."""
    from headrace.timeouts import async_timeout

    engine = TaskRunEngine(task, parameters, flow_ctx, record, wait_for)
    try:
        # Waiting for upstream futures or a concurrency slot blocks: keep it off the event loop.
        if await asyncio.to_thread(engine.prepare) is None:
            with ExitStack() as stack:
                engine.enter_run_context(stack)
                args, kwargs = engine.call_args()
                while True:
                    engine.begin_attempt()
                    try:
                        async with async_timeout(task.timeout_seconds, engine.label):
                            result = await task.fn(*args, **kwargs)
                    except Exception as exc:
                        delay = engine.handle_exception(exc)
                        if delay is None:
                            break
                        await asyncio.sleep(delay)
                    else:
                        engine.handle_success(result)
                        break
    except BaseException as exc:
        engine.crash(exc)
        raise
    finally:
        engine.release_slots()
    engine.finish()
    return engine.outcome(return_type)


def submit_task(
    task: Task[..., Any],
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext,
    wait_for: Iterable[Any] | None = None,
) -> HeadraceFuture[Any]:
    """Run a task in the flow's task runner; its future resolves to the final state."""
    record = new_task_run(flow_ctx, task.name, task.task_key, task.tags, pending=True)

    def call() -> State[Any]:
        if task.isasync:
            coro = arun_task(
                task,
                parameters,
                flow_ctx,
                return_type="submitted",
                record=record,
                wait_for=wait_for,
            )
            done: State[Any] = asyncio.run(coro)
            return done
        state: State[Any] = run_task(
            task, parameters, flow_ctx, return_type="submitted", record=record, wait_for=wait_for
        )
        return state

    future = flow_ctx.task_runner.submit(call)
    return HeadraceFuture(record, future, flow_ctx)
