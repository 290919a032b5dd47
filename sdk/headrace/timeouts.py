"""Ending an attempt that runs longer than its `timeout_seconds`.

- Sync code in the main thread: SIGALRM (`setitimer`), which also interrupts `time.sleep` and
  most blocking calls. Nested timeouts share the one timer: it is armed for the nearest deadline.
- Sync code in another thread (the task runner's pool): the exception is raised in that thread
  with `PyThreadState_SetAsyncExc`. Python checks for it between bytecodes, so a thread blocked in
  one long C call (e.g. a single `time.sleep(60)`) notices only when that call returns.
- Async code: `asyncio.timeout`, which cancels the awaiting coroutine.

Each scope raises `RunTimeout` with a message saying which timeout expired.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

from headrace.exceptions import RunTimeout
from headrace.signal_deferral import handing_off_now

_HAND_OFF_DELAY = 0.001  # seconds


class _Expired(BaseException):
    """Raised into the timed-out code; BaseException so user `except Exception` cannot eat it."""

    scope_id = -1

    @classmethod
    def for_scope(cls, scope_id: int) -> type[_Expired]:
        # A class, not an instance: PyThreadState_SetAsyncExc raises a class.
        return type("_Expired", (cls,), {"scope_id": scope_id})


class _AlarmScopes:
    """The stack of timeouts of the main thread, sharing SIGALRM.

    An application's own SIGALRM use (e.g. pytest-timeout) is kept: its handler and pending
    timer are saved, its deadline is treated as one more in the stack (firing its handler), and
    both are restored when the last scope ends.
    """

    def __init__(self) -> None:
        self.deadlines: dict[int, float] = {}
        self.next_id = 0
        self.previous_handler: Any = None
        self.previous_deadline: float | None = None

    def usable(self) -> bool:
        if not hasattr(signal, "setitimer"):
            return False
        if threading.current_thread() is not threading.main_thread():
            return False
        # A handler installed from C (None) cannot be chained to.
        return bool(self.deadlines) or signal.getsignal(signal.SIGALRM) is not None

    def push(self, seconds: float) -> int:
        now = time.monotonic()
        if not self.deadlines:
            self.previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
            remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
            self.previous_deadline = now + remaining if remaining > 0 else None
        self.next_id += 1
        self.deadlines[self.next_id] = now + seconds
        self._arm()
        return self.next_id

    def pop(self, scope_id: int) -> None:
        self.deadlines.pop(scope_id, None)
        if self.deadlines:
            self._arm()
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous_handler)
        if self.previous_deadline is not None:
            signal.setitimer(
                signal.ITIMER_REAL, max(self.previous_deadline - time.monotonic(), 0.001)
            )
            self.previous_deadline = None

    def _arm(self) -> None:
        pending = list(self.deadlines.values())
        if self.previous_deadline is not None:
            pending.append(self.previous_deadline)
        signal.setitimer(signal.ITIMER_REAL, max(min(pending) - time.monotonic(), 0.001))

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if handing_off_now():
            # Raising here would lose the printed line being handed to the logs: a little later.
            signal.setitimer(signal.ITIMER_REAL, _HAND_OFF_DELAY)
            return
        now = time.monotonic()
        if self.previous_deadline is not None and self.previous_deadline <= now:
            self.previous_deadline = None
            self._arm()
            if callable(self.previous_handler):
                self.previous_handler(signum, frame)
            return
        expired = [sid for sid, deadline in self.deadlines.items() if deadline <= now]
        if not expired:
            self._arm()
            return
        # The outermost expired scope wins: inner scopes re-raise what is not theirs.
        scope_id = min(expired)
        self.deadlines.pop(scope_id)
        if self.deadlines or self.previous_deadline is not None:
            self._arm()
        raise _Expired.for_scope(scope_id)()


_alarms = _AlarmScopes()
_thread_ids = iter(range(1 << 62))
_thread_lock = threading.Lock()


@contextmanager
def timeout(seconds: float | None, what: str) -> Iterator[None]:
    """Raise `RunTimeout` in this block after `seconds` (no limit when None)."""
    if seconds is None:
        yield
        return
    if _alarms.usable():
        with _alarm_timeout(seconds, what):
            yield
    else:
        with _thread_timeout(seconds, what):
            yield


@contextmanager
def _alarm_timeout(seconds: float, what: str) -> Iterator[None]:
    scope_id = _alarms.push(seconds)
    try:
        yield
    except _Expired as exc:
        if exc.scope_id != scope_id:
            raise
        raise _timeout_error(seconds, what) from None
    finally:
        _alarms.pop(scope_id)


@contextmanager
def _thread_timeout(seconds: float, what: str) -> Iterator[None]:
    thread_id = threading.get_ident()
    with _thread_lock:
        scope_id = next(_thread_ids)
    expired = _Expired.for_scope(scope_id)
    state = {"active": True, "fired": False}
    lock = threading.Lock()

    def fire() -> None:
        with lock:
            if state["active"]:
                state["fired"] = True
                _set_async_exc(thread_id, expired)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except _Expired as exc:
        if exc.scope_id != scope_id:
            raise
        raise _timeout_error(seconds, what) from None
    finally:
        timer.cancel()
        with lock:
            state["active"] = False
            if state["fired"]:
                # Fired as the block was ending: the exception may still be pending; drop it.
                _set_async_exc(thread_id, None)


@asynccontextmanager
async def async_timeout(seconds: float | None, what: str) -> AsyncIterator[None]:
    """The same for coroutines: the awaiting code is cancelled."""
    if seconds is None:
        yield
        return
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        if isinstance(exc, RunTimeout):
            raise
        raise _timeout_error(seconds, what) from None


def _timeout_error(seconds: float, what: str) -> RunTimeout:
    return RunTimeout(f"{what} exceeded its timeout of {seconds:g} seconds (timeout_seconds)")


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # Imported on first use: ctypes costs every run's start a few ms, and few runs time out.
    import ctypes

    # SetAsyncExc takes an exception class or instance; NULL clears a pending one.
    value = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), value)
