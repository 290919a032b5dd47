"""The flow process of a worker's run checks that its worker still holds the run (issue 20).

A worker renews its runs' leases with its heartbeats. A worker that hangs (SIGSTOP, a long
pause) while its flow process goes on stops renewing: the lease expires, the reaper rescues
the run, another worker starts attempt 2, and attempt 1 would run on beside it until its end.

So the flow process asks the API every `lease_seconds / 3` whether its worker still holds the
run (`GET /api/flow_runs/{id}/lease?worker_id=...`, a primary-key read). On a definite no (a
409: the lease expired and the run was rescued, then maybe claimed again by another worker or
by the same one) it stops the attempt at once: it says so in one line, sends SIGTERM to itself
and the processes it started (its process group; the engine's handler interrupts the main
thread's blocking call, see headrace.interrupts), and the engine, seeing the lease lost,
records nothing (the run's state belongs to the new attempt); the process exits with
EXIT_LEASE_LOST. Code that swallows the interruption is ended `LEASE_LOST_GRACE_SECONDS` later
by `os._exit`. An unreachable API is no answer: the attempt goes on (the worker's side decides,
as in a network cut).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid

from headrace.errors import Conflict, HeadraceError
from headrace.ports.backend import current_api_url
from headrace.signal_mask import leave_signals_to_main_thread

# The exit status of a flow process whose attempt was superseded (python -m headrace.engine).
EXIT_LEASE_LOST = 3
# Until the first answer says the server's lease length.
FIRST_INTERVAL_SECONDS = 1.0
# How long code that caught the interruption may go on before the process is ended anyway.
LEASE_LOST_GRACE_SECONDS = 2.0
# Checks per lease: one lost answer (a slow or failed request) still leaves time for the next.
CHECKS_PER_LEASE = 3

_logger = logging.getLogger("headrace.engine")

# Why this process's attempt lost its run, once a watch found out (the exit status says so).
_lost: str | None = None


def lease_lost() -> str | None:
    """Why the run of this flow process is no longer its attempt's; None while it is."""
    return _lost


class LeaseWatch:
    """Started once the run is Running for its worker; stopped before the final state is sent."""

    def __init__(
        self,
        flow_run_id: uuid.UUID,
        worker_id: uuid.UUID,
        run_logger: logging.Logger | logging.LoggerAdapter,  # type: ignore[type-arg]
    ) -> None:
        self.flow_run_id = flow_run_id
        self.worker_id = worker_id
        self.run_logger = run_logger
        self.lost: str | None = None  # why, once the run is no longer this attempt's
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="headrace-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No more checks; a loss found after this is not acted on (the run is finishing, and
        its final state is fenced by the server anyway)."""
        with self._lock:
            self._stopped.set()

    def _watch(self) -> None:
        # Here, not at the top: `import headrace` must not load httpx and pydantic.
        from headrace.client import HeadraceClient, flow_runs

        leave_signals_to_main_thread()
        interval = FIRST_INTERVAL_SECONDS
        client = HeadraceClient(
            current_api_url(), api_key=os.environ.get("HEADRACE_API_KEY"), retries=0
        )
        with client:
            while not self._stopped.wait(interval):
                try:
                    lease = flow_runs.lease(
                        client, self.flow_run_id, self.worker_id, timeout=interval
                    )
                except Conflict as refused:
                    self._on_lost(refused.detail)
                    return
                # Unreachable, a 503, or a 404 from a server older than the check: no answer.
                except HeadraceError as error:
                    _logger.debug("lease check of run %s failed: %s", self.flow_run_id, error)
                    continue
                interval = max(lease.lease_seconds / CHECKS_PER_LEASE, 0.1)

    def _on_lost(self, reason: str) -> None:
        global _lost
        with self._lock:
            if self._stopped.is_set():
                return
            self.lost = _lost = reason
        message = _why_stopping(reason)
        # Sent with the run's logs as the process exits.
        self.run_logger.warning(message)
        _terminate_attempt()
        # Whatever the main thread does meanwhile (code that caught the interruption, task
        # runs still running in the runner's threads), the attempt ends here. os._exit skips
        # sending the buffered logs: the line goes to stderr, which the worker forwards.
        time.sleep(LEASE_LOST_GRACE_SECONDS)
        print(
            f"headrace: flow run {self.flow_run_id}: {message}; still running "
            f"{LEASE_LOST_GRACE_SECONDS:g} s later: exiting now",
            file=sys.stderr,
            flush=True,
        )
        os._exit(EXIT_LEASE_LOST)


def _why_stopping(reason: str) -> str:
    from headrace.schemas.pauses import SUSPENDED_BY_REQUEST

    if reason.startswith(SUSPENDED_BY_REQUEST):  # suspend_flow_run(flow_run_id=...) elsewhere
        return f"{reason}: stopping this attempt"
    return (
        f"this attempt lost the run ({reason}): another attempt may be running it now; "
        "stopping without recording anything"
    )


def _terminate_attempt() -> None:
    """SIGTERM to this process and, when a worker started it as the leader of its own process
    group, to every process the flow started: the whole attempt stops, as on a cancel."""
    if hasattr(os, "killpg") and os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGTERM)
