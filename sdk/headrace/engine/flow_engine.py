"""Running a flow run through its states. A flow run's transitions go to the API synchronously,
because the server may refuse them (a run being cancelled must not start or retry).

`FlowRunEngine` makes the decisions; `run_flow` and `arun_flow` are the sync and async loops.
Both can create a new run (a script calling a flow) or run an existing one (a worker's
`python -m headrace.engine <id>`), and a flow called inside a flow is a child run linked to a
task run of its parent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from headrace import log_prints
from headrace import states as st
from headrace._state_types import StateType
from headrace.context import FlowRunContext, NamingContext, flow_run_context, naming_context
from headrace.engine.lease_watch import LeaseWatch
from headrace.engine.task_call import call_context
from headrace.engine.task_dispatch import await_submitted, new_task_run, wait_submitted
from headrace.exceptions import Abort, ParameterError, Pause
from headrace.futures import states_of_futures
from headrace.hooks import run_hooks
from headrace.interrupts import signals_interrupt_main_thread
from headrace.logging import PRINT_LOGGER, RunLogger, run_logger
from headrace.parameters import json_safe
from headrace.ports import NewFlowRun
from headrace.ports.backend import Backend, FlowRunInfo, get_backend
from headrace.reporter import TaskRunRecord
from headrace.result_storage import result_ref, store_for
from headrace.results import serialize, serializer_name, storage_key
from headrace.resume import attempt_of, completed_in
from headrace.retries import first_delay, retry_delay
from headrace.run_names import format_run_name
from headrace.signal_deferral import handing_off, signals_deferrable
from headrace.startup_trace import mark
from headrace.states import State
from headrace.tagging import merge_tags, tags
from headrace.task_interrupts import CauseOf, signals_stop_this_task
from headrace.timeouts import async_timeout, timeout

if TYPE_CHECKING:
    from headrace.calls import FlowLike

ReturnType = Literal["result", "state"]

# How many failed task runs a flow's Failed message names before "and N more".
_NAMED_FAILURES = 5


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM), e.g. by a worker cancelling the run."""


@dataclass(frozen=True)
class ExistingRun:
    """A run made elsewhere (a deployment's), already read, that this process is to run."""

    info: FlowRunInfo
    worker_id: str | None = None  # the worker holding its lease, if a worker started it
    # Called once the API accepted the run's final state (see engine.outcome_report).
    final_state_recorded: Callable[[], None] | None = None


class FlowRunEngine:
    """The state machine of one flow run."""

    def __init__(
        self,
        flow: FlowLike,
        parameters: dict[str, Any],
        *,
        existing: ExistingRun | None = None,
    ) -> None:
        self.flow = flow
        self.parameters = parameters
        self.existing = existing
        self.worker_id = existing.worker_id if existing else None
        self.parent_ctx = flow_run_context.get()
        self.parent_record: TaskRunRecord | None = None
        self.state: State[Any] = st.Pending()
        self.attempt = 0
        self.label = f"Flow run of {flow.name!r}"
        self._logger: RunLogger | None = None
        self._lease_watch: LeaseWatch | None = None
        self.backend: Backend
        self.info: FlowRunInfo
        # Resume from failure: attempts this run had before this process took it, whether this
        # attempt resumes, and the task runs completed so far (id -> attempt) it may reuse.
        self.earlier_attempts = 0
        self.resuming = flow.resume_from_failure
        self.completed: dict[uuid.UUID, int] = {}
        self._ctx: FlowRunContext | None = None

    # -- start --------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the run in state Running, or move an existing one to Running (`Abort` if
        the server refuses: then nothing of the flow runs)."""
        flow = self.flow
        parent = self.parent_ctx
        existing = self.existing
        self.backend = parent.backend if parent else get_backend(require_api=existing is not None)
        running = st.Running()
        if existing is not None:
            self.info = existing.info
            self.backend.runs.set_state(self.info.id, running, worker_id=self.worker_id)
            mark("running-set", self.info.id)
            self._resume_existing()
            # A run made elsewhere (a deployment's) takes its flow's `flow_run_name` now, as in
            # Prefect. It is already Running: a name that cannot be made is logged, not fatal.
            try:
                name = self._custom_name(self.info.tags)
            except (TypeError, ValueError) as exc:
                name = None
                self.logger().warning("the run keeps its name: %s", exc)
            if (
                name is not None
                and name != self.info.name
                and self.backend.runs.rename(self.info.id, name)
            ):
                self.info.name = name
        else:
            parent_task_run_id = None
            if parent is not None:
                # The child run appears in the parent as a task run that it is linked to.
                self.parent_record = new_task_run(
                    parent, flow.name, f"subflow:{flow.name}", (), pending=False
                )
                self.parent_record.run_count = 1
                self.parent_record.start_time = running.timestamp
                parent.backend.task_runs.set_state(self.parent_record, st.Running())
                parent_task_run_id = self.parent_record.id
            run_tags = merge_tags(flow.tags)
            self.info = self.backend.runs.create(
                NewFlowRun(
                    flow_name=flow.name,
                    name=self._custom_name(run_tags),
                    parameters=json_safe(self.parameters),
                    tags=run_tags,
                    parent_task_run_id=parent_task_run_id,
                    max_retries=flow.retries,
                    retry_delay_seconds=first_delay(flow.retry_delay_seconds, flow.retries),
                    state=running,
                )
            )
        self.attempt = 1
        self.state = running
        self.label = f"Flow run {self.info.name!r}"
        self.logger().info("Beginning flow run %r for flow %r", self.info.name, flow.name)
        if self.existing is not None and self.worker_id is not None:
            # A worker's run: stop as soon as the worker no longer holds it.
            self._lease_watch = LeaseWatch(self.info.id, uuid.UUID(self.worker_id), self.logger())
            self._lease_watch.start()

    def _resume_existing(self) -> None:
        """An existing run taken again (a retry by hand, or rescheduled after a crash): when
        it resumes from failure, the task runs its earlier attempts completed."""
        info = self.info
        self.earlier_attempts = info.run_count
        if info.from_failure is not None:
            self.resuming = info.from_failure
        if not (self.resuming and info.run_count):
            return
        ended = self.backend.runs.completed_task_runs(info.id)
        self.completed = {
            run_id: attempt_of(end, info.attempt_starts, info.run_count)
            for run_id, end in ended.items()
        }
        self.logger().info(
            "Retrying from failure: %d task run(s) completed in earlier attempts", len(ended)
        )

    def _custom_name(self, run_tags: list[str]) -> str | None:
        """The name `flow_run_name` makes for the new run (None: the server names it). A
        function runs where `headrace.runtime.flow_run` tells the flow, parameters and tags."""
        template = self.flow.flow_run_name
        if template is None:
            return None
        token = naming_context.set(NamingContext(self.flow, self.parameters, tuple(run_tags)))
        try:
            return format_run_name(
                template, self.parameters, f"flow {self.flow.name!r}: flow_run_name"
            )
        finally:
            naming_context.reset(token)

    def running_hooks(self) -> None:
        """`on_running` hooks, each time the run enters Running (a retry too)."""
        if self.flow.on_running:
            run_hooks(self.flow.on_running, self.logger(), self.flow, self.info, self.state)

    def validated_parameters(self) -> dict[str, Any] | None:
        """The parameters coerced to their type hints; None (and the run Failed) if invalid."""
        if not self.flow.validate_parameters:
            return self.parameters
        try:
            return self.flow.parameter_model.validate(self.parameters)
        except ParameterError as exc:
            self.state = st.Failed(str(exc), exception=exc)
            return None

    # -- attempts -----------------------------------------------------------------------------

    def enter_attempt(self, stack: ExitStack) -> FlowRunContext:
        """The context of the flow's code: run ids, tags, task runner, print capture. Dynamic
        keys start again at 0: a task run reached again has the same identity."""
        flow = self.flow
        inherited = self.parent_ctx.log_prints if self.parent_ctx else False
        capture = inherited if flow.log_prints is None else flow.log_prints
        runner = flow.task_runner.duplicate()
        ctx = FlowRunContext(
            flow=flow,
            flow_run_id=self.info.id,
            flow_run_name=self.info.name,
            parameters=self.parameters,
            backend=self.backend,
            task_runner=runner,
            log_prints=capture,
            call_context=call_context(
                self.backend,
                capture,
                self.parameters,
                None if flow.result_storage is None else str(flow.result_storage),
                resume=flow.resume_from_failure or self.resuming,
                result_serializer=flow.result_serializer,
            ),
            run_count=self.attempt,
            info=self.info,
            parent_flow_run_id=self.parent_ctx.flow_run_id if self.parent_ctx else None,
            completed_before=dict(self.completed) if self.resuming else {},
        )
        self._ctx = ctx
        token = flow_run_context.set(ctx)
        stack.callback(flow_run_context.reset, token)
        stack.enter_context(tags(*flow.tags, *self.info.tags))
        if capture:
            printer = run_logger(self.info.id, None, self.label, logger_name=PRINT_LOGGER)
            stack.enter_context(log_prints.capture_prints(printer))
        elif self.parent_ctx is not None:
            stack.enter_context(log_prints.no_capture())
        # Entered last, exited first: leaving the block waits for the submitted task runs
        # (within the flow's timeout, entered before), then for the runner's workers.
        stack.enter_context(runner)
        stack.callback(wait_submitted, ctx)
        return ctx

    def handle_success(self, result: Any, ctx: FlowRunContext) -> float | None:
        result = states_of_futures(result)
        run_states = {id(r.state) for r in ctx.task_runs}
        returned = st.state_of_return_value(result, lambda s: id(s) in run_states)
        if returned is not None:
            # The flow decided its own final state, or returned states that decide it.
            self.state = returned
            return None
        failed = [
            r
            for r in ctx.task_runs
            if r.state is not None
            and r.state.type in (StateType.FAILED, StateType.CRASHED)
            and r.id not in ctx.handled
        ]
        if failed:
            # As in Prefect 3, the returned value decides: the flow is Completed. The failures
            # nobody looked at are named in the run's logs so that they are not silent.
            names = ", ".join(repr(r.name) for r in failed[:_NAMED_FAILURES])
            more = (
                f" and {len(failed) - _NAMED_FAILURES} more"
                if len(failed) > _NAMED_FAILURES
                else ""
            )
            self.logger().warning(
                "%d task run(s) failed and the flow did not look at them: %s%s",
                len(failed),
                names,
                more,
            )
        self.state = st.Completed(result)
        return None

    def handle_exception(self, exc: Exception) -> float | None:
        # Any TimeoutError, ours or the code's own, is named TimedOut, as Prefect does.
        if isinstance(exc, TimeoutError):
            return self._failed(st.TimedOut(str(exc), exception=exc))
        return self._failed(st.Failed(st.exception_message(exc), exception=exc))

    def _failed(self, failed: State[Any]) -> float | None:
        """A failed attempt: the delay before a retry, or None when it is final."""
        flow = self.flow
        if self.attempt > flow.retries:
            self.state = failed
            return None
        delay = retry_delay(
            flow.retry_delay_seconds, flow.retries, self.attempt - 1, flow.retry_jitter_factor
        )
        first_line = (failed.message or failed.name).splitlines()[0]
        self.logger().warning(
            "attempt %d failed (%s); retrying in %.3g s", self.attempt, first_line, delay
        )
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        self._propose(
            st.AwaitingRetry(
                f"{failed.name}: {failed.message}", details={"scheduled_time": retry_at.isoformat()}
            )
        )
        return delay

    def begin_retry(self) -> None:
        if self._ctx is not None and (self.resuming or self.flow.resume_from_failure):
            # The flow's own retry resumes: what this attempt completed is not run again.
            self.resuming = True
            done_in = self.earlier_attempts + self.attempt
            self.completed = completed_in(self._ctx.task_runs, done_in, self.completed)
        self.attempt += 1
        self.state = st.Retrying()
        self._propose(self.state)
        self.running_hooks()

    # -- the end ------------------------------------------------------------------------------

    def crash(self, exc: BaseException) -> None:
        """Interrupted (Ctrl-C, SIGTERM, SystemExit): Crashed, or Cancelled when the server
        says the run is being cancelled, or nothing when it was suspended. Reported as well as
        possible; the caller re-raises.
        When the worker lost the run, nothing is reported: the run is another attempt's."""
        if self._lease_watch is not None and self._lease_watch.lost is not None:
            return
        self.state = st.Crashed(f"interrupted by {type(exc).__name__}", exception=exc)
        server_state = self._server_state() if isinstance(exc, Terminated) else None
        if server_state == StateType.PAUSED.value:
            # Suspended from outside (suspend_flow_run(flow_run_id=...)): its worker stopped
            # this process; the run goes on once resumed.
            self.suspended()
            return
        if server_state == StateType.CANCELLING.value:
            self.state = st.Cancelled("cancelled while running")
        self.finish()

    def suspended(self) -> None:
        """`suspend_flow_run`: the run is Suspended on the server; this process only stops."""
        self._stop_lease_watch()
        self.state = st.Suspended("suspended until it is resumed")
        self.logger().info("Suspended; a worker runs the flow again once it is resumed")
        self.backend.flush()

    def abort(self, exc: Abort) -> None:
        """The server refused a transition: the run is not ours to go on with."""
        self._stop_lease_watch()
        self.logger().warning("%s; stopping", exc)
        self.state = st.Cancelled(str(exc), exception=exc)
        self._hooks()

    def finish(self) -> State[Any]:
        # From here the run ends by itself; the server fences its final state.
        self._stop_lease_watch()
        # Task runs first, so the run never looks finished with task runs missing.
        self.backend.flush()
        state = self.state
        if state.is_completed() and state.data is None and state.has_result():
            summary = {"result": json_safe(state.result())} if _small(state) else {}
            state.data = {**summary, **self._persist(state.result())} or None
        try:
            recorded = self._propose(state)
        except Abort as exc:
            self.abort(exc)
        else:
            if recorded and self.existing and self.existing.final_state_recorded:
                self.existing.final_state_recorded()
            self._hooks()
        if self.parent_record is not None and self.parent_ctx is not None:
            self.parent_record.end_time = datetime.now(UTC)
            mirrored: State[Any] = State(
                self.state.type, self.state.name, self.state.message, exception=self.state.exception
            )
            self.parent_ctx.backend.task_runs.set_state(self.parent_record, mirrored)
        level = 20 if self.state.is_completed() else 40
        first_line = (self.state.message or "").splitlines()[0] if self.state.message else ""
        self.logger().log(
            level,
            "Finished in state %s%s",
            self.state.name,
            f": {first_line}" if first_line else "",
        )
        self.backend.flush()
        return self.state

    def _stop_lease_watch(self) -> None:
        if self._lease_watch is not None:
            self._lease_watch.stop()

    def _hooks(self) -> None:
        flow, state = self.flow, self.state
        hooks = {
            StateType.COMPLETED: flow.on_completion,
            StateType.FAILED: flow.on_failure,
            StateType.CRASHED: flow.on_crashed,
            StateType.CANCELLED: flow.on_cancellation,
        }.get(state.type, [])
        run_hooks(hooks, self.logger(), flow, self.info, state)

    def outcome(self, return_type: ReturnType) -> Any:
        if self.parent_ctx is not None and self.parent_record is not None:
            # Whoever called the child flow sees its outcome (state or exception).
            self.parent_ctx.mark_handled(self.parent_record.id)
        if return_type == "state":
            return self.state
        return self.state.result()

    def _propose(self, state: State[Any]) -> bool:
        """False when the API could not be reached (the run goes on)."""
        return self.backend.runs.set_state(self.info.id, state, worker_id=self.worker_id)

    def _server_state(self) -> str | None:
        try:
            return self.backend.runs.read(self.info.id).state_type
        except Exception:
            return None

    def _persist(self, result: Any) -> dict[str, Any]:
        """Store the flow's result when it persists results (`persist_result=True`, or a
        result storage or serializer given, as in Prefect 3); where it went, for the state."""
        flow = self.flow
        persist = flow.persist_result
        if persist is None:
            persist = flow.result_storage is not None or flow.result_serializer is not None
        if not persist:
            return {}
        # Here: settings load pydantic-settings, which `import headrace` must not.
        from headrace.settings import client_settings

        serializer = flow.result_serializer or "json"
        key = storage_key(f"flow_run:{self.info.id}")
        try:
            data = serialize(result, serializer, self.label, client_settings().result_max_bytes)
            name = serializer_name(serializer)
            store_for(flow.result_storage, self.backend.results).write(key, name, data, None)
        except Exception as exc:  # the run completed; only its stored result is lost
            self.logger().warning("could not store the result (%s)", exc)
            return {}
        return result_ref(key, name, flow.result_storage)

    def logger(self) -> RunLogger:
        if self._logger is None:
            self._logger = run_logger(self.info.id, None, self.label)
        return self._logger


def _small(state: State[Any]) -> bool:
    # A short summary of the result is kept on the final state for the dashboard; big ones are not.
    return len(repr(state.result())) <= 1000


def _start(engine: FlowRunEngine) -> None:
    """Start the run. A Ctrl-C or SIGTERM arriving meanwhile waits for the run to exist, then
    crashes it: raised halfway, it left a run created on the server Running for ever."""
    try:
        with handing_off():
            engine.start()
    except BaseException as exc:
        if engine.attempt:  # started: the signal waited for the start to end
            engine.crash(exc)
        raise
    engine.running_hooks()


def run_flow(
    flow: FlowLike,
    parameters: dict[str, Any],
    *,
    return_type: ReturnType = "result",
    existing: ExistingRun | None = None,
) -> Any:
    """Run a sync flow: a new run, or the `existing` one."""
    with signals_interrupt_main_thread(), signals_deferrable():
        return _run_flow(flow, parameters, return_type, existing)


def _run_flow(
    flow: FlowLike,
    parameters: dict[str, Any],
    return_type: ReturnType,
    existing: ExistingRun | None,
) -> Any:
    engine = FlowRunEngine(flow, parameters, existing=existing)
    _start(engine)
    try:
        params = engine.validated_parameters()
        while params is not None:
            try:
                with ExitStack() as stack:
                    stack.enter_context(timeout(flow.timeout_seconds, engine.label))
                    ctx = engine.enter_attempt(stack)
                    args, kwargs = flow.call_args(params)
                    mark("flow-call", engine.info.id)
                    result = flow.fn(*args, **kwargs)
            except Abort:
                raise  # the API stopped the run (e.g. cancelled while paused): not a failure
            except Exception as exc:
                delay = engine.handle_exception(exc)
            else:
                delay = engine.handle_success(result, ctx)
            if delay is None:
                break
            time.sleep(delay)
            engine.begin_retry()
    except Abort as exc:
        engine.abort(exc)
        engine.backend.flush()
        return engine.outcome(return_type)
    except Pause:
        engine.suspended()
        raise
    except BaseException as exc:
        engine.crash(exc)
        raise
    engine.finish()
    return engine.outcome(return_type)


async def arun_flow(
    flow: FlowLike,
    parameters: dict[str, Any],
    *,
    return_type: ReturnType = "result",
    existing: ExistingRun | None = None,
) -> Any:
    """Run an async flow (the same steps as `run_flow`, awaited)."""
    with (
        signals_interrupt_main_thread(),
        signals_stop_this_task() as cause_of,
        signals_deferrable(),  # its handlers wrap the task's: entered last
    ):
        return await _arun_flow(flow, parameters, return_type, existing, cause_of)


async def _arun_flow(
    flow: FlowLike,
    parameters: dict[str, Any],
    return_type: ReturnType,
    existing: ExistingRun | None,
    cause_of: CauseOf,
) -> Any:
    engine = FlowRunEngine(flow, parameters, existing=existing)
    _start(engine)
    try:
        params = engine.validated_parameters()
        while params is not None:
            try:
                with ExitStack() as stack:
                    ctx = engine.enter_attempt(stack)
                    args, kwargs = flow.call_args(params)
                    async with async_timeout(flow.timeout_seconds, engine.label):
                        mark("flow-call", engine.info.id)
                        result = await flow.fn(*args, **kwargs)
                        await await_submitted(ctx)
            except Abort:
                raise  # the API stopped the run (e.g. cancelled while paused): not a failure
            except Exception as exc:
                delay = engine.handle_exception(exc)
            else:
                delay = engine.handle_success(result, ctx)
            if delay is None:
                break
            await asyncio.sleep(delay)
            engine.begin_retry()
    except Abort as exc:
        engine.abort(exc)
        engine.backend.flush()
        return engine.outcome(return_type)
    except Pause:
        engine.suspended()
        raise
    except BaseException as exc:
        # The cancellation by a Ctrl-C or a SIGTERM is reported as that signal's exception.
        cause = cause_of(exc)
        engine.crash(cause)
        if cause is not exc and engine.parent_ctx is None:
            # The outermost flow raises it, as a sync flow would; a child flow re-raises the
            # cancellation, for its parent (maybe in another task) to report and raise.
            raise cause from None
        raise
    engine.finish()
    return engine.outcome(return_type)
