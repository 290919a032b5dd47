"""Running one task call through its states: concurrency slots, cache, attempts with retries and
timeouts, result persistence, hooks.

The decisions live in `TaskRunEngine`; `run_attempts` and `arun_attempts` are the two short loops
(sync and async) that call the user's function between them. The engine knows the task call and a
backend, nothing of the flow run's live objects, so it runs the same in the flow's process or in
a task runner's worker elsewhere. States go to the backend's reporter, which sends them to the API
in batches.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from headrace import states as st
from headrace.caching import CacheContext
from headrace.concurrency import acquire_slots
from headrace.context import TaskRunContext, task_run_context
from headrace.exceptions import ResultError, UnserializableResult
from headrace.hooks import run_hooks
from headrace.log_prints import capture_prints, capturing, no_capture
from headrace.logging import PRINT_LOGGER, RunLogger, run_logger
from headrace.result_storage import ResultStore, result_ref, store_for
from headrace.results import deserialize, serialize, serializer_name, storage_key
from headrace.resume import resume_key, reused
from headrace.retries import retry_delay
from headrace.states import State, state_of_return_value
from headrace.timeouts import async_timeout, timeout

if TYPE_CHECKING:
    from pathlib import Path

    from headrace.calls import TaskCall
    from headrace.ports.backend import Backend
    from headrace.reporter import TaskRunRecord
    from headrace.results import ResultSerializer


_NOT_STARTED: State[Any] = st.Pending()

# The keys the API's results route accepts (see headrace_service.api.results).
_API_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class _BadStorageKey(ValueError):
    """A `result_storage_key` template that cannot be formatted for this run."""


class TaskRunEngine:
    """The state machine of one task run."""

    def __init__(self, call: TaskCall, backend: Backend, record: TaskRunRecord) -> None:
        self.call = call
        self.task = call.task
        self.backend = backend
        self.record = record
        self.parameters = call.parameters
        # Until the first transition: a placeholder, never reported.
        self.state: State[Any] = record.state or _NOT_STARTED
        self.label = f"Task run {record.name!r}"
        self._storage_key: str | None = None
        self._slots: Any = None
        self._logger: RunLogger | None = None
        # The state the task's function returned, if it returned one (a direct call hands it
        # to the caller as the call's value).
        self.returned_state: Any = None
        # Why a task run that completed in an earlier attempt runs again (its first state says).
        self._rerun_reason: str | None = None

    # -- before the first attempt ---------------------------------------------------------------

    def prepare(self) -> State[Any] | None:
        """Take concurrency slots, look up an earlier attempt's result, then the cache. Returns
        a final state when the function must not run (reused or cached)."""
        earlier = self._reuse_lookup()
        if earlier is not None:
            return earlier
        cached = self._cache_lookup()
        if cached is None:
            self._take_slots()  # a cache hit runs nothing, so it needs no slot
        return cached

    def _take_slots(self) -> None:
        if not self.record.tags:
            return
        limited = self.backend.slots.limited_tags().intersection(self.record.tags)
        if limited:
            self._slots = acquire_slots(
                self.backend.slots, sorted(limited), self.record.id, on_wait=self._set
            )

    def release_slots(self) -> None:
        if self._slots is not None:
            self._slots.release()
            self._slots = None

    def _reuse_lookup(self) -> State[Any] | None:
        """The result this task run stored when it completed in an earlier attempt of its
        flow run (a retry from failure), as its final state; None: it runs."""
        attempt = self.call.completed_in_attempt
        if attempt is None:
            return None
        key = self._resume_key()
        found = self._store().read(key)
        if found is None:
            self._rerun(attempt, "no result of it is stored for these inputs")
            return None
        serializer, data = found
        try:
            value = deserialize(data, serializer, self._resume_serializer())
        except Exception as exc:
            self._rerun(attempt, f"its stored result cannot be read ({exc})")
            return None
        return self._set(reused(value, attempt, self._result_ref(key, serializer)))

    def _rerun(self, attempt: int, why: str) -> None:
        # Said when it does run (the cache may still serve it).
        self._rerun_reason = f"completed in attempt {attempt} but {why}: running it again"

    def _resume_key(self) -> str:
        return resume_key(self.record.id, self.task.task_key, self.parameters)

    def _resume_serializer(self) -> ResultSerializer:
        """The task's serializer, else its flow's, else JSON (pickle only when asked for)."""
        own = self.task.result_serializer
        if own is not None:
            return own
        flows: ResultSerializer | None = self.call.context.result_serializer
        return flows if flows is not None else "json"

    def _cache_lookup(self) -> State[Any] | None:
        try:
            key = self._cache_key()
        except _BadStorageKey as exc:
            return self._set(st.Failed(str(exc), exception=exc))
        if key is None or self.task.refresh_cache:
            return None
        found = self._store().read(key)
        if found is None:
            return None
        serializer, data = found
        try:
            value = deserialize(data, serializer, self.task.result_serializer)
        except Exception as exc:
            self.logger().warning("ignoring a cached result that cannot be read (%s)", exc)
            return None
        return self._set(st.Cached(value, details=self._result_ref(key, serializer)))

    def _cache_key(self) -> str | None:
        """The key results are cached under (also set as where this run's result is stored):
        the cache policy's, else the formatted `result_storage_key`; None: no caching."""
        task = self.task
        policy = task.cache_policy_in_effect()
        if policy is not None:
            context = CacheContext(
                task.task_key,
                task.name,
                task.fn,
                self.call.flow_run_id,
                self.call.context.flow_parameters_key,
                task=task,
                task_run=SimpleNamespace(
                    id=self.record.id, name=self.record.name, flow_run_id=self.record.flow_run_id
                ),
            )
            try:
                key = policy.compute_key(context, self.parameters)
            except Exception as exc:
                self.logger().warning("not cached: cannot compute a cache key (%s)", exc)
                key = None
            if key is not None:
                self.record.cache_key = key[:1000]
                self._storage_key = self._location_key(storage_key(key))
        if task.result_storage_key is not None and task.persist_result is not False:
            self._storage_key = self._location_key(self._formatted_storage_key())
            if policy is None:
                self.record.cache_key = self._storage_key[:1000]
                return self._storage_key
        return self._storage_key if policy is not None else None

    def _formatted_storage_key(self) -> str:
        template = self.task.result_storage_key or ""
        record = self.record
        try:
            return template.format(
                parameters=self.parameters,
                flow_run=SimpleNamespace(id=record.flow_run_id),
                task_run=SimpleNamespace(id=record.id, name=record.name),
            )
        except (KeyError, AttributeError, IndexError, ValueError) as exc:
            raise _BadStorageKey(
                f"result_storage_key={template!r} cannot be formatted ({type(exc).__name__}: "
                f"{exc}); it may use {{parameters[name]}}, {{flow_run.id}}, {{task_run.id}} "
                "and {task_run.name}"
            ) from None

    def _location_key(self, key: str) -> str:
        """`key` as the store takes it: the API accepts a bounded set of characters, so a key
        for it is hashed unless it is one of ours already."""
        if self._storage is None and not _API_KEY.match(key):
            return storage_key(key)
        return key

    @property
    def _storage(self) -> str | Path | None:
        """The task's own `result_storage`, else its flow's (as in Prefect)."""
        own = self.task.result_storage
        return own if own is not None else self.call.context.result_storage

    def _store(self) -> ResultStore:
        return store_for(self._storage, self.backend.results)

    def _result_ref(self, key: str, serializer: str) -> dict[str, Any]:
        return result_ref(key, serializer, self._storage)

    # -- attempts -----------------------------------------------------------------------------

    def begin_attempt(self) -> None:
        record = self.record
        record.run_count += 1
        if record.start_time is None:
            record.start_time = datetime.now(UTC)
        reason, self._rerun_reason = self._rerun_reason, None
        if reason is not None:
            self.logger().warning("%s", reason)
        running = self._set(st.Running(reason) if record.run_count == 1 else st.Retrying(reason))
        if self.task.on_running:
            run_hooks(self.task.on_running, self.logger(), self.task, record, running)

    def call_args(self) -> tuple[list[Any], dict[str, Any]]:
        return self.task.call_args(self.parameters)

    def handle_success(self, result: Any) -> None:
        returned = state_of_return_value(result)
        if returned is not None:
            # A task may return a state (or states) to decide its own outcome.
            self.returned_state = result
            self._set(returned)
            return
        try:
            data = self._persist(result)
        except UnserializableResult as exc:
            # As in Prefect, the run still completes; only its result is not stored (so a
            # later call is not a cache hit). The warning says how to make it storable.
            self.logger().warning("the result is not stored: %s", exc)
            data = None
        except ResultError as exc:
            # Retrying would not make the result storable: fail now, saying how to fix it.
            self._set(st.Failed(st.exception_message(exc, with_traceback=False), exception=exc))
            return
        unkept = self._keep_for_resume(result)
        self._set(st.Completed(result, unkept, details=data))

    def handle_exception(self, exc: Exception) -> float | None:
        """Record the failed attempt; the delay before the next one, or None if final."""
        # Any TimeoutError, ours or the code's own, is named TimedOut, as Prefect does.
        if isinstance(exc, TimeoutError):
            failed = st.TimedOut(str(exc), exception=exc)
        else:
            failed = st.Failed(st.exception_message(exc), exception=exc)
        task = self.task
        if self.record.run_count <= task.retries and self._should_retry(failed):
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
            self._set(st.AwaitingRetry(message, details={"retry_in_seconds": delay}))
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
        if not (task.persists_results() or self._storage_key):
            return None
        key = self._storage_key or storage_key(f"task_run:{self.record.id}")
        serializer = task.result_serializer or "json"
        data = serialize(result, serializer, self.label, self.call.context.result_max_bytes)
        expires_at = (
            datetime.now(UTC) + task.cache_expiration if task.cache_expiration is not None else None
        )
        name = serializer_name(serializer)
        try:
            self._store().write(key, name, data, expires_at)
        except Exception as exc:  # the run completed; only its stored result is lost
            self.logger().warning("could not store the result (%s)", exc)
            return None
        return self._result_ref(key, name)

    def _keep_for_resume(self, result: Any) -> str | None:
        """Store the result under the run's identity for a retry from failure (when its flow
        may resume); why it could not be, for the Completed state's message."""
        if not self.call.context.resume:
            return None
        serializer = self._resume_serializer()
        try:
            data = serialize(result, serializer, self.label, self.call.context.result_max_bytes)
            if serializer == "json" and deserialize(data, "json") != result:
                # A tuple comes back a list, int dict keys as strings: handing that to the
                # code later would not be the same step's result.
                raise ResultError(
                    "its JSON form does not read back equal (a tuple, a set or non-string "
                    'dict keys?); set result_serializer="pickle" on the task or the flow'
                )
            self._store().write(self._resume_key(), serializer_name(serializer), data, None)
        except Exception as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.logger().warning(
                "the result is not kept for a retry from failure, which will run this task "
                "again: %s",
                why,
            )
            return f"result not kept for a retry from failure ({why})"
        return None

    # -- the end ------------------------------------------------------------------------------

    def finish(self) -> State[Any]:
        state = self.state
        hooks = self.task.on_completion if state.is_completed() else self.task.on_failure
        if hooks and (state.is_completed() or state.is_failed()):
            run_hooks(hooks, self.logger(), self.task, self.record, state)
        return state

    # -- context of the user's code -----------------------------------------------------------

    def enter_run_context(self, stack: ExitStack) -> None:
        record = self.record
        own = self.task.log_prints
        capture = self.call.context.log_prints if own is None else own
        ctx = TaskRunContext(self.task, record, capture, self.parameters)
        token = task_run_context.set(ctx)
        stack.callback(task_run_context.reset, token)
        if own is None:
            # Prints follow the flow's setting, attributed to the flow run: in the flow's
            # process its capture is already in effect; elsewhere it is set up here.
            if capture and not capturing():
                self._capture_prints(stack, None)
        elif own:
            self._capture_prints(stack, record.id)
        else:
            stack.enter_context(no_capture())

    def _capture_prints(self, stack: ExitStack, task_run_id: Any) -> None:
        label = self.label if task_run_id is not None else f"Flow run of {self.task.name!r}"
        printer = run_logger(self.record.flow_run_id, task_run_id, label, logger_name=PRINT_LOGGER)
        stack.enter_context(capture_prints(printer))

    def logger(self) -> RunLogger:
        if self._logger is None:
            self._logger = run_logger(self.record.flow_run_id, self.record.id, self.label)
        return self._logger

    def _set(self, state: State[Any]) -> State[Any]:
        self.state = state
        if state.is_final():
            # Set before the state is handed to the reporter, so they leave together.
            self.record.end_time = state.timestamp
        self.backend.task_runs.set_state(self.record, state)
        return state


def run_attempts(engine: TaskRunEngine) -> State[Any]:
    """Run a sync task call to its final state."""
    task = engine.task
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
    return engine.finish()


async def arun_attempts(engine: TaskRunEngine) -> State[Any]:
    """Run an async task call to its final state (the same steps as `run_attempts`, awaited)."""
    task = engine.task
    try:
        # Waiting for a concurrency slot blocks: keep it off the event loop.
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
    return engine.finish()
