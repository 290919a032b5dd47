"""Client-side states of flow and task runs, and the helpers that make them (`Completed()`, ...).

Plain Python on purpose: a state is created for every transition of every task run, so it must
cost about a microsecond (no pydantic here).
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from headrace._state_types import DEFAULT_NAMES, TERMINAL_TYPES, StateType
from headrace.exceptions import FailedRun

R = TypeVar("R")


class _NoResult:
    """The result of a state that has none; stays itself through pickling (a state comes back
    from a task runner in another process)."""

    def __reduce__(self) -> str:
        return "_NO_RESULT"


_NO_RESULT: Any = _NoResult()

# How much traceback a state message keeps: enough to find the line, bounded for the API.
_MAX_TRACEBACK_CHARS = 20_000


class State(Generic[R]):
    """A state a run went through: its type, a name refining the type, a message, a result."""

    __slots__ = ("_result", "data", "exception", "id", "message", "name", "timestamp", "type")

    def __init__(
        self,
        type: StateType | str,
        name: str | None = None,
        message: str | None = None,
        *,
        result: Any = _NO_RESULT,
        exception: BaseException | None = None,
        details: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
        data: Any = _NO_RESULT,
    ) -> None:
        self.id = uuid.uuid4()
        # Prefect scripts may give the type as a string ("COMPLETED").
        self.type = type if type.__class__ is StateType else StateType(type)
        self.name = name or DEFAULT_NAMES[self.type]
        self.message = message
        self.timestamp = timestamp or datetime.now(UTC)
        # What the API keeps of the state besides its type, name and message (a result key,
        # a retry time); `data=` is Prefect's keyword for the result itself.
        self.data = details
        self.exception = exception
        self._result = data if result is _NO_RESULT else result

    def __repr__(self) -> str:
        message = f", message={self.message.splitlines()[0]!r}" if self.message else ""
        return f"{self.name}(type={self.type.value}{message})"

    def __str__(self) -> str:
        # What `print(state)` shows, as in Prefect: `Completed('done')`, `TimedOut('...',
        # type=FAILED)` (the type only when the name does not say it).
        shown = [repr(self.message)] if self.message else []
        if self.name.lower() != self.type.value.lower():
            shown.append(f"type={self.type.value}")
        return f"{self.name}({', '.join(shown)})"

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    def has_result(self) -> bool:
        return self._result is not _NO_RESULT

    def result(self, raise_on_failure: bool = True, fetch: bool = True) -> R:
        """The run's return value; for a run that did not complete, raise its exception
        (or return the exception when `raise_on_failure=False`). `fetch` is Prefect's: a
        state here always holds its result."""
        if self.is_completed():
            value: R = None if self._result is _NO_RESULT else self._result  # type: ignore[assignment]
            return value
        exc = self.exception or FailedRun(self.message or f"the run is in state {self.name}")
        if raise_on_failure:
            raise exc
        return exc  # type: ignore[return-value]


def _state(type: StateType, name: str | None, message: str | None, **kwargs: Any) -> State[Any]:
    return State(type, name, message, **kwargs)


def Scheduled(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.SCHEDULED, name, message, **kw)


def Late(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.SCHEDULED, "Late", message, **kw)


def AwaitingRetry(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.SCHEDULED, "AwaitingRetry", message, **kw)


def Pending(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.PENDING, name, message, **kw)


def AwaitingConcurrencySlot(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.PENDING, "AwaitingConcurrencySlot", message, **kw)


def Running(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.RUNNING, name, message, **kw)


def Retrying(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.RUNNING, "Retrying", message, **kw)


def Completed(
    result: Any = _NO_RESULT, message: str | None = None, *, name: str | None = None, **kw: Any
) -> State[Any]:
    return _state(StateType.COMPLETED, name, message, result=result, **kw)


def Cached(result: Any = _NO_RESULT, message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.COMPLETED, "Cached", message, result=result, **kw)


def Failed(
    message: str | None = None,
    *,
    exception: BaseException | None = None,
    name: str | None = None,
    **kw: Any,
) -> State[Any]:
    return _state(StateType.FAILED, name, message, exception=exception, **kw)


def TimedOut(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.FAILED, "TimedOut", message, **kw)


def Crashed(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.CRASHED, name, message, **kw)


def Cancelling(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.CANCELLING, None, message, **kw)


def Cancelled(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.CANCELLED, name, message, **kw)


def Paused(message: str | None = None, *, name: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.PAUSED, name, message, **kw)


def Suspended(message: str | None = None, **kw: Any) -> State[Any]:
    return _state(StateType.PAUSED, "Suspended", message, **kw)


def state_of_return_value(
    value: Any, is_run_state: Callable[[State[Any]], bool] | None = None
) -> State[Any] | None:
    """The final state a run's function chose by returning `value`, as Prefect decides it; None
    when `value` is plain data.

    A state the code made itself (`return Completed(...)`, `State(type=..., name=...)`) is the
    run's state as it is. States of other runs (`is_run_state`), alone or a non-empty list,
    tuple or set of states, make one aggregate state holding them as its result: Completed if
    all completed, else Cancelled, Paused or Failed, saying how many (`1/2 states failed.`).
    """
    if isinstance(value, State):
        if is_run_state is None or not is_run_state(value):
            return value
        states: list[State[Any]] = [value]
    elif type(value) in (list, tuple, set) and value and all(isinstance(v, State) for v in value):
        states = list(value)
    else:
        return None
    total = len(states)

    def count(kind: StateType) -> int:
        return sum(1 for s in states if s.type is kind)

    if all(s.is_completed() for s in states):
        return State(StateType.COMPLETED, message="All states completed.", result=value)
    for kind, word in ((StateType.CANCELLED, "cancelled"), (StateType.PAUSED, "paused")):
        if n := count(kind):
            return State(kind, message=f"{n}/{total} states {word}.", result=value)
    failed = [s for s in states if s.type in (StateType.FAILED, StateType.CRASHED)]
    if failed:
        message = f"{len(failed)}/{total} states failed."
    else:
        unfinished = sum(1 for s in states if not s.is_final())
        message = f"{unfinished}/{total} states are not final."
    first = failed[0] if failed else None
    exception = (first.exception or FailedRun(first.message or first.name)) if first else None
    return State(StateType.FAILED, message=message, result=value, exception=exception)


def exception_message(exc: BaseException, *, with_traceback: bool = True) -> str:
    """`Type: message`, then the traceback: what a Failed state says about an exception."""
    head = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if not with_traceback or exc.__traceback__ is None:
        return head
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if len(tb) > _MAX_TRACEBACK_CHARS:
        tb = "...\n" + tb[-_MAX_TRACEBACK_CHARS:]
    return f"{head}\n\n{tb}"


__all__ = [
    "AwaitingConcurrencySlot",
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateType",
    "Suspended",
    "TimedOut",
    "exception_message",
    "state_of_return_value",
]
