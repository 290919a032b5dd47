"""Keep the signals that stop a run off headrace's own background threads.

The kernel may deliver a process-wide signal (Ctrl-C's SIGINT, a worker's SIGTERM, the timeouts'
SIGALRM) to any thread that does not block it. Python runs its handlers in the main thread only,
and when another thread receives the signal it merely flags it: a main thread blocked in a long
C call (`time.sleep(600)`, a lock wait) is not woken and raises nothing until that call returns.
Blocking these signals in headrace's service threads leaves the main thread to receive them.
"""

from __future__ import annotations

import signal

_MAIN_THREAD_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGALRM") if hasattr(signal, name)
)


def leave_signals_to_main_thread() -> None:
    """Call first in a background thread that never starts processes (they would inherit the
    blocked signals and could then not be interrupted or terminated)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
