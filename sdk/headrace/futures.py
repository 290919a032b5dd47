"""Futures of submitted task runs, and how futures passed as arguments are resolved.

A future passed to another task is waited for and replaced by its result; the upstream task run
is recorded as an input of the downstream one (the dashboard draws that edge). If the upstream
did not complete, the downstream does not run, unless the argument is wrapped in
`allow_failure(...)`, which passes the exception along instead.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from headrace.context import FlowRunContext
from headrace.exceptions import UpstreamFailed
from headrace.reporter import TaskRunRecord
from headrace.states import Crashed, Pending, State
from headrace.utilities.annotations import allow_failure, opaque, quote, unmapped
from headrace.visiting import DESCEND, walk

__all__ = [
    "DoneAndNotDone",
    "FutureList",
    "HeadraceFuture",
    "allow_failure",
    "as_completed",
    "opaque",
    "quote",
    "unmapped",
    "wait",
]

R = TypeVar("R")


class HeadraceFuture(Generic[R]):
    """The eventual state of a submitted task run."""

    def __init__(
        self,
        record: TaskRunRecord,
        future: concurrent.futures.Future[State[R]],
        flow_ctx: FlowRunContext | None,
    ) -> None:
        self.record = record
        self._future = future
        self._flow_ctx = flow_ctx

    @property
    def task_run_id(self) -> uuid.UUID:
        return self.record.id

    @property
    def state(self) -> State[R]:
        """The current state; a final one once the run is done."""
        if self._future.done():
            self._handled()
            return self._final_state()
        return self.record.state or Pending()

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the task run is done (or `timeout` seconds passed)."""
        concurrent.futures.wait([self._future], timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The task's return value; raises its exception if it failed."""
        state = self._final_state(timeout)
        self._handled()
        return state.result(raise_on_failure=raise_on_failure)

    def _final_state(self, timeout: float | None = None) -> State[R]:
        state = self._future.result(timeout)
        self.record.state = state  # the runner returned it: the flow's record follows
        return state

    def _handled(self) -> None:
        if self._flow_ctx is not None:
            self._flow_ctx.mark_handled(self.record.id)

    def __repr__(self) -> str:
        return f"HeadraceFuture({self.record.name!r}, {self.state!r})"


def fold_state(record: TaskRunRecord, future: concurrent.futures.Future[State[Any]]) -> None:
    """The final state `future` resolves to (waiting for it) becomes its flow-side record's; a
    runner that raised leaves it Crashed."""
    # exception() waits without raising what the run raised: an interrupt of the wait itself
    # (the flow's timeout) goes on up.
    exc = future.exception()
    if exc is None:
        record.state = future.result()
    else:
        record.state = Crashed(f"interrupted by {type(exc).__name__}", exception=exc)


def states_of_futures(value: Any) -> Any:
    """`value` with futures (alone, or items of a list, tuple, set or dict) replaced by their
    final states: what a flow returns is judged by the states of the runs it returns."""
    if isinstance(value, HeadraceFuture):
        return value.state
    if isinstance(value, list | tuple | set) and any(isinstance(v, HeadraceFuture) for v in value):
        # A FutureList (what `map` returns) becomes a plain list of states.
        kind = type(value) if type(value) in (list, tuple, set) else list
        return kind(v.state if isinstance(v, HeadraceFuture) else v for v in value)
    if type(value) is dict and any(isinstance(v, HeadraceFuture) for v in value.values()):
        return {k: v.state if isinstance(v, HeadraceFuture) else v for k, v in value.items()}
    return value


class FutureList(list[HeadraceFuture[R]]):
    """What `task.map` returns: a list of futures with `result()` and `wait()` for them all."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        return [f.result(timeout, raise_on_failure) for f in self]


class DoneAndNotDone(NamedTuple):
    done: set[HeadraceFuture[Any]]
    not_done: set[HeadraceFuture[Any]]


def wait(futures: Iterable[HeadraceFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Wait for all `futures` (or until `timeout`); returns which are done and which are not."""
    by_inner = {f._future: f for f in futures}
    done, not_done = concurrent.futures.wait(by_inner, timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(
    futures: Iterable[HeadraceFuture[R]], timeout: float | None = None
) -> Iterator[HeadraceFuture[R]]:
    """Yield the futures as their task runs finish."""
    by_inner = {f._future: f for f in futures}
    for inner in concurrent.futures.as_completed(by_inner, timeout):
        yield by_inner[inner]


# Containers are searched for futures as deep as `headrace.visiting.MAX_DEPTH`.


def resolve_inputs(
    parameters: dict[str, Any], flow_ctx: FlowRunContext | None
) -> tuple[dict[str, Any], dict[str, list[uuid.UUID]]]:
    """Replace futures (and states) anywhere in `parameters` by their results; return the
    upstream task run ids per parameter. Raises `UpstreamFailed` if an upstream did not complete
    (unless wrapped in `allow_failure`)."""
    edges: dict[str, list[uuid.UUID]] = {}
    resolved = {}
    for name, value in parameters.items():
        upstream: list[uuid.UUID] = []
        resolved[name] = walk(value, _Resolver(upstream, flow_ctx, allow=False))
        if upstream:
            edges[name] = list(dict.fromkeys(upstream))  # one edge per upstream run
    return resolved, edges


def wait_for_upstream(wait_for: Iterable[Any], flow_ctx: FlowRunContext | None) -> list[uuid.UUID]:
    """Wait for `wait_for=[...]` futures; returns their ids (edges without data)."""
    upstream: list[uuid.UUID] = []
    resolver = _Resolver(upstream, flow_ctx, allow=False)
    for item in wait_for:
        walk(item, resolver)
    return list(dict.fromkeys(upstream))


def pending_futures(
    parameters: dict[str, Any], wait_for: Iterable[Any] | None
) -> list[HeadraceFuture[Any]]:
    """The futures in `parameters` and `wait_for` (searched as `resolve_inputs` does) whose
    task runs are not done yet."""
    found: list[HeadraceFuture[Any]] = []

    def visit(value: Any) -> Any:
        if isinstance(value, HeadraceFuture):
            if not value.done():
                found.append(value)
            return value
        if isinstance(value, allow_failure):
            return walk(value.value, visit)
        if isinstance(value, opaque):
            return visit(value.value) if isinstance(value.value, HeadraceFuture) else value
        if isinstance(value, quote):
            return value
        return DESCEND

    for value in parameters.values():
        walk(value, visit)
    for value in wait_for or ():
        walk(value, visit)
    return found


class _Resolver:
    """The visitor that waits for each future met and puts its result in its place."""

    __slots__ = ("allow", "flow_ctx", "upstream")

    def __init__(
        self, upstream: list[uuid.UUID], flow_ctx: FlowRunContext | None, *, allow: bool
    ) -> None:
        self.upstream = upstream
        self.flow_ctx = flow_ctx
        self.allow = allow

    def __call__(self, value: Any) -> Any:
        if isinstance(value, HeadraceFuture):
            self.upstream.append(value.task_run_id)
            state = value._final_state()
            if self.flow_ctx is not None and self.allow:
                self.flow_ctx.mark_handled(value.task_run_id)
            return _state_value(state, value.record.name, self.allow)
        if isinstance(value, State):
            return _state_value(value, value.name, self.allow)
        if isinstance(value, allow_failure):
            return walk(value.value, _Resolver(self.upstream, self.flow_ctx, allow=True))
        if isinstance(value, quote):
            return value.value  # as given: nothing inside is looked at
        if isinstance(value, opaque):
            inner = value.value
            return self(inner) if isinstance(inner, HeadraceFuture | State) else inner
        return DESCEND


def _state_value(state: State[Any], name: str, allow: bool) -> Any:
    if state.is_completed():
        return state.result()
    if allow:
        return state.result(raise_on_failure=False)
    raise UpstreamFailed(f"upstream task run {name!r} did not complete: it is {state.name}")


# Prefect's names for the same classes (`from prefect.futures import PrefectFuture`).
PrefectFuture = HeadraceFuture
PrefectFutureList = FutureList
# Prefect's future of a run made elsewhere; here every future is a HeadraceFuture.
PrefectDistributedFuture = HeadraceFuture
PrefectConcurrentFuture = HeadraceFuture
