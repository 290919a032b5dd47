"""How a worker's flow process tells its worker that the run's final state is recorded.

After the flow process exits, the worker reads the run to see whether it ended by itself or must
be reported Crashed (or Cancelled). When the process recorded the final state, that read is a
request to the API per run for nothing, so the worker passes the write end of a pipe
(`HEADRACE_OUTCOME_FD`) and the engine writes `RECORDED` into it once the API accepted the
run's final state. Nothing written (a process killed, an `os._exit` in the flow, an API that
could not be reached, a final state refused): the worker reads the run as before.

The descriptor is not inherited by the processes the flow starts, and the variable is removed
from the environment they see.
"""

from __future__ import annotations

import contextlib
import os

OUTCOME_FD_ENV = "HEADRACE_OUTCOME_FD"
RECORDED = b"recorded"


class OutcomeReport:
    """The write end the worker handed over, if any."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def from_environment(cls) -> OutcomeReport:
        raw = os.environ.pop(OUTCOME_FD_ENV, "")
        try:
            fd = int(raw)
            os.set_inheritable(fd, False)
        except (ValueError, OSError):
            return cls(None)  # none given (run by hand), or not an open descriptor
        return cls(fd)

    def final_state_recorded(self) -> None:
        """Called once the API accepted the run's final state."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):  # the worker is gone: nobody to tell
            os.write(fd, RECORDED)
        with contextlib.suppress(OSError):
            os.close(fd)


def read_outcome(fd: int) -> bool:
    """The worker's side, after the process exited: did it say its final state is recorded?
    Never waits (a process the flow started may still hold the pipe open). Closes `fd`."""
    try:
        os.set_blocking(fd, False)
        try:
            return os.read(fd, len(RECORDED)) == RECORDED
        except BlockingIOError:
            return False
    finally:
        os.close(fd)
