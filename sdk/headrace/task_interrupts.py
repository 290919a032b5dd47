"""While async flows run in the main thread's event loop, a signal that stops a run (Ctrl-C's
SIGINT, a worker's SIGTERM) stops their tasks at once, and each flow can tell which signal it
was (issue 22).

Left to asyncio, Ctrl-C cancels `asyncio.run`'s main task: the flow sees a bare CancelledError
and cannot say it was interrupted by KeyboardInterrupt. And the SIGTERM handler of `python -m
headrace.engine` raised `Terminated` wherever the main thread was, most often inside the event
loop's wait, outside the flow: the loop ended with it, the flow's task was cancelled as the loop
closed, and the run went Crashed where a cancelled run must end Cancelled.

So while a flow's task runs, SIGINT's and SIGTERM's handlers (when they are Python functions) are
wrapped. The wrapper learns what the usual handler would raise (KeyboardInterrupt for Python's
and asyncio's Ctrl-C handler, `Terminated` for the engine's SIGTERM one, whatever an
application's handler raises; when it raises nothing, nothing more happens) and keeps it as the
cause. If a flow's own code is running (a blocking call in an async flow: no await would deliver
a cancellation), the cause is raised there, as for a sync flow; the other flow tasks are
cancelled and the loop is woken. A flow that then sees CancelledError reports the cause.
A second signal is handled as usual at once: no waiting for the first one's reports.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from headrace.signal_deferral import (
    PythonHandler,
    unwrap_stop_handlers,
    usual,
    wrap_stop_handlers,
)

CauseOf = Callable[[BaseException], BaseException]


class _Stopper:
    """The wrapped handlers and the flow tasks of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.tasks: dict[asyncio.Task[Any], int] = {}  # a task runs nested flows: counted
        self.cause: BaseException | None = None
        self.previous: dict[int, PythonHandler] = {}

    def install(self) -> None:
        self.previous = wrap_stop_handlers(self.on_signal)

    def uninstall(self) -> None:
        unwrap_stop_handlers(self.on_signal, self.previous)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.cause is not None:
            usual(self.previous[signum], signum, frame)
            return
        try:
            usual(self.previous[signum], signum, frame)
        except BaseException as exc:
            self.cause = exc
        else:
            return
        current = asyncio.current_task(self.loop)
        for task in self.tasks:
            if task is not current:
                task.cancel()
        # Cancelling only schedules callbacks: wake a loop waiting with a long timeout.
        self.loop.call_soon_threadsafe(_nothing)
        if current in self.tasks:
            raise self.cause

    def cause_of(self, exc: BaseException) -> BaseException:
        if isinstance(exc, asyncio.CancelledError) and self.cause is not None:
            return self.cause
        return exc


def _nothing() -> None:
    pass


def _same(exc: BaseException) -> BaseException:
    return exc


# One per process: signal handlers belong to the main thread, whose loop runs the flows.
_stopper: _Stopper | None = None


@contextmanager
def signals_stop_this_task() -> Iterator[CauseOf]:
    """Entered by an async flow in its task: a signal that stops a run stops the task (see the
    module's docstring). Yields `cause_of(exc)`: the exception to report for what the flow
    caught, the signal's when it is the cancellation that the signal caused."""
    global _stopper
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        yield _same
        return
    loop = task.get_loop()
    if _stopper is not None and _stopper.loop.is_closed():  # left behind by an abandoned task
        _stopper.uninstall()
        _stopper = None
    if _stopper is None:
        _stopper = _Stopper(loop)
        _stopper.install()
    elif _stopper.loop is not loop:  # a loop run inside a flow of the outer loop: the outer's
        yield _same
        return
    stopper = _stopper
    stopper.tasks[task] = stopper.tasks.get(task, 0) + 1
    try:
        yield stopper.cause_of
    finally:
        stopper.tasks[task] -= 1
        if not stopper.tasks[task]:
            del stopper.tasks[task]
        if not stopper.tasks:
            stopper.uninstall()
            _stopper = None
