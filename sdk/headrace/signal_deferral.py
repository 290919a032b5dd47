"""A signal that stops a run waits until the main thread has finished a step of headrace's own
that it must not cut in half: handing a printed line to the run's logs, starting a run (issue 22).

Python runs a signal's handler between any two bytecodes of the main thread. Ctrl-C's
KeyboardInterrupt raised inside the hand-off of a captured print (`log_prints`) lost that line:
it was taken from the partial-line buffer but never reached the reporter, while the console had
it already. While a run is in progress, SIGINT's and SIGTERM's handlers (when they are Python
functions) are wrapped: inside a `handing_off()` section the wrapper only notes the signal, and
the section's end runs the usual handler, which raises at that clean point. A second signal is
obeyed at once. The timeouts' SIGALRM handler asks `handing_off_now()` itself.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_RUNNER_ON_SIGINT = getattr(asyncio.Runner, "_on_sigint", None)
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM"))

PythonHandler = Callable[[int, FrameType | None], Any]


class _Deferral:
    def __init__(self) -> None:
        self.users = 0
        self.depth = 0
        self.pending: list[tuple[int, FrameType | None]] = []
        self.previous: dict[int, PythonHandler] = {}

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A second signal while one waits is obeyed at once: the section may be a slow call to
        # an API that does not answer, and pressing Ctrl-C again must still get the user out.
        if self.depth and not self.pending:
            self.pending.append((signum, frame))
            return
        usual(self.previous[signum], signum, frame)

    def run_pending(self) -> None:
        while self.pending:
            signum, frame = self.pending.pop(0)
            usual(self.previous[signum], signum, frame)


def usual(handler: PythonHandler, signum: int, frame: FrameType | None) -> None:
    """What `handler` does, except that asyncio.Runner's Ctrl-C handler raises KeyboardInterrupt
    as Python's does: it would only cancel its main task, which cannot run while a flow blocks
    the loop (a sync flow called from async code); the flow's own handling stops the task."""
    if isinstance(handler, functools.partial) and (
        getattr(handler.func, "__func__", None) is _RUNNER_ON_SIGINT
    ):
        raise KeyboardInterrupt
    handler(signum, frame)


def wrap_stop_handlers(wrapper: PythonHandler) -> dict[int, PythonHandler]:
    """Make `wrapper` the handler of SIGINT and SIGTERM where theirs is a Python function
    (main thread only); the handlers it replaced, by signal, for the wrapper to call."""
    replaced = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            replaced[signum] = handler
            signal.signal(signum, wrapper)
    return replaced


def unwrap_stop_handlers(wrapper: PythonHandler, replaced: dict[int, PythonHandler]) -> None:
    for signum, handler in replaced.items():
        if signal.getsignal(signum) == wrapper:  # else someone replaced the wrapper: keep theirs
            signal.signal(signum, handler)


# Main thread only: signal handlers run there.
_deferral: _Deferral | None = None


@contextmanager
def signals_deferrable() -> Iterator[None]:
    """Entered by a run in the main thread, after anything else that wraps the handlers (the
    wrapper must be outermost). Entered again while entered, the wrapper in place is shared."""
    global _deferral
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _deferral is None:
        _deferral = _Deferral()
        _deferral.previous = wrap_stop_handlers(_deferral.on_signal)
    deferral = _deferral
    deferral.users += 1
    try:
        yield
    finally:
        deferral.users -= 1
        if not deferral.users:
            unwrap_stop_handlers(deferral.on_signal, deferral.previous)
            _deferral = None
            deferral.run_pending()


@contextmanager
def handing_off() -> Iterator[None]:
    """A section the signals that stop a run do not cut in half (in the main thread, while a
    run is in progress); their handlers run at its end."""
    deferral = _deferral
    if deferral is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    deferral.depth += 1
    try:
        yield
    finally:
        deferral.depth -= 1
        if not deferral.depth:
            deferral.run_pending()


def handing_off_now() -> bool:
    """Whether the main thread is in a `handing_off()` section (for the timeouts' SIGALRM
    handler, which is not wrapped: it is installed while the run is in progress)."""
    return _deferral is not None and _deferral.depth > 0
