"""Make a signal that stops a run (Ctrl-C's SIGINT, a worker's SIGTERM, a timeout's SIGALRM)
interrupt the main thread's blocking call at once (issue 22).

CPython's C-level handler only flags a signal; the main thread runs the Python handler at its
next check between bytecodes, or when its blocking call (`time.sleep`, a lock wait) fails with
EINTR. The call is not interrupted when the signal is received by another thread, or arrives
after the main thread's last check but before it enters the call: the handler then runs only
when the call returns (a flow's `time.sleep(600)` went on for 600 s after Ctrl-C).

While a sync flow runs in the main thread, the signal wakeup fd tells a watcher thread that a
signal arrived, and the watcher nudges the main thread with a private signal whose Python
handler does nothing. The nudge interrupts the blocking call, and the check that follows runs
every flagged handler (the user's, Python's default one, the engine's): once, as flags
coalesce, so nothing is raised twice. The nudge's handler acknowledges it; a check that runs it
has run the handlers of signals flagged before it, so until acknowledged the watcher nudges again.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from headrace.signal_mask import leave_signals_to_main_thread

# A real-time signal nobody else is expected to use; the guard stands aside if one does.
_NUDGE = signal.SIGRTMAX - 2 if hasattr(signal, "SIGRTMAX") else None
_FIRST_WAIT = 0.01  # seconds before nudging again, doubled each time
_MAX_NUDGES = 8  # then stop: the main thread is busy in C code, which EINTRs would only disturb


class _Watcher:
    def __init__(self, nudge: int, wakeup_reader: socket.socket) -> None:
        self.nudge = nudge
        self.reader = wakeup_reader
        self.acknowledged = threading.Event()
        self.stopping = False
        self.main_ident = threading.main_thread().ident
        self.thread = threading.Thread(target=self._watch, name="headrace-interrupts", daemon=True)

    def on_nudge(self, signum: int, frame: FrameType | None) -> None:
        self.acknowledged.set()

    def stop(self) -> None:
        self.stopping = True
        self.acknowledged.set()
        self.reader.shutdown(socket.SHUT_RDWR)
        self.thread.join()

    def _watch(self) -> None:
        leave_signals_to_main_thread()
        signal.pthread_sigmask(signal.SIG_BLOCK, {self.nudge})
        while not self.stopping:
            received = self.reader.recv(256)
            if not received:
                return
            if any(signum != self.nudge for signum in received):
                self._nudge_until_acknowledged()

    def _nudge_until_acknowledged(self) -> None:
        wait = _FIRST_WAIT
        for _ in range(_MAX_NUDGES):
            if self.stopping or self.main_ident is None:
                return
            self.acknowledged.clear()
            signal.pthread_kill(self.main_ident, self.nudge)
            if self.acknowledged.wait(wait):
                return
            wait *= 2


class _Guard:
    """The wakeup fd, the watcher and the nudge's handler, shared by every user in the process."""

    def __init__(self, nudge: int) -> None:
        self.users = 0
        self.reader, self.writer = socket.socketpair()
        self.writer.setblocking(False)
        self.previous_fd = signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)
        self.watcher = _Watcher(nudge, self.reader)

    @classmethod
    def install(cls) -> _Guard | None:
        """The guard, running; None where it cannot run (asyncio owns the wakeup fd, ...)."""
        if (
            _NUDGE is None
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(_NUDGE) != signal.SIG_DFL
        ):
            return None
        guard = cls(_NUDGE)
        if guard.previous_fd != -1:
            signal.set_wakeup_fd(guard.previous_fd)
            guard.reader.close()
            guard.writer.close()
            return None
        signal.signal(_NUDGE, guard.watcher.on_nudge)
        guard.watcher.thread.start()
        return guard

    def uninstall(self) -> None:
        _restore_wakeup_fd(self.writer.fileno(), self.previous_fd)
        self.watcher.stop()
        # Only once the watcher has ended: an unhandled real-time signal would kill the process.
        signal.signal(self.watcher.nudge, signal.SIG_DFL)
        self.reader.close()
        self.writer.close()


# Main thread only. Shared rather than nested: async flows running side by side in one event
# loop leave in any order, and the guard must stay until the last one has left.
_guard: _Guard | None = None


@contextmanager
def signals_interrupt_main_thread() -> Iterator[None]:
    """While this is entered (from the main thread), a signal received interrupts the main
    thread's blocking call; does nothing elsewhere, or if the wakeup fd is in use (asyncio's
    signal handlers). Entered again while entered (a child flow, async flows side by side),
    the guard in place is shared; it is removed when the last user leaves."""
    global _guard
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _guard if _guard is not None else _Guard.install()
    if guard is None:
        yield
        return
    _guard = guard
    guard.users += 1
    try:
        yield
    finally:
        guard.users -= 1
        if guard.users == 0:
            _guard = None
            guard.uninstall()


def _restore_wakeup_fd(ours: int, previous: int) -> None:
    replaced = signal.set_wakeup_fd(previous)
    if replaced != ours:  # the flow set its own meanwhile: keep it
        signal.set_wakeup_fd(replaced)
