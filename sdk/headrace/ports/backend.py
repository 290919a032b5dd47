"""Where the engine records runs: a small bundle of ports (see `headrace.ports`), on the
API (`api_backend`) or nowhere (`offline_backend`).

With no API reachable a script still runs, says so once in one line on stderr, and keeps what
must work in-process (results cache) in memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headrace.ports import FlowRunInfo, Logs, Results, RunStates, Slots, TaskRuns
from headrace.ports.offline import (
    MemoryResults,
    NoSlots,
    OfflineLogs,
    OfflineRunStates,
    OfflineTaskRuns,
)
from headrace.reporter import Reporter

if TYPE_CHECKING:
    from headrace.client import HeadraceClient

__all__ = ["Backend", "FlowRunInfo", "api_backend", "get_backend", "offline_backend"]

_logger = logging.getLogger("headrace.engine")


@dataclass(eq=False)
class Backend:
    """One implementation of each port the engine uses."""

    runs: RunStates = field(default_factory=OfflineRunStates)
    task_runs: TaskRuns = field(default_factory=OfflineTaskRuns)
    logs: Logs = field(default_factory=OfflineLogs)
    results: Results = field(default_factory=MemoryResults)
    slots: Slots = field(default_factory=NoSlots)
    # Log lines are worth handing to `logs` (run loggers skip it otherwise).
    online: bool = False
    # The API URL this backend was made for (`get_backend` makes a new one when it changes).
    api_url: str | None = None
    # The key its client sends: task calls that run in another process send the same one.
    api_key: str | None = None

    def flush(self) -> None:
        """Send the buffered task runs and log lines now."""
        if not (self.task_runs.flush() and self.logs.flush()):
            _logger.warning("some task runs or logs could not be sent to the headrace API")


def offline_backend(api_url: str | None = None) -> Backend:
    """Records nothing; keeps results in memory."""
    return Backend(api_url=api_url)


def api_backend(client: HeadraceClient) -> Backend:
    """Records everything through the headrace API."""
    # Imported here: the API ports load httpx and pydantic, which an offline run never needs.
    from headrace.ports.api import (
        ApiLogs,
        ApiResults,
        ApiRunStates,
        ApiSlots,
        ApiTaskRuns,
        log_sender,
        task_run_sender,
    )

    reporter = Reporter(task_run_sender(client), log_sender(client))
    # A script that ends (or is interrupted) outside a flow still sends what is buffered.
    atexit.register(reporter.close, 5.0)
    return Backend(
        runs=ApiRunStates(client),
        task_runs=ApiTaskRuns(reporter),
        logs=ApiLogs(reporter),
        results=ApiResults(client),
        slots=ApiSlots(client),
        online=True,
        api_url=client.api_url,
        api_key=client.api_key,
    )


# -- the process's backend ----------------------------------------------------------------------

_backend: Backend | None = None
_backend_lock = threading.Lock()


def current_api_url() -> str:
    """HEADRACE_API_URL, else the active profile's (or the default), trimmed as the client
    trims it (it may list several replicas)."""
    # Here and below: api_urls, settings and the client load pydantic and httpx.
    from headrace.api_urls import split_api_urls

    raw = os.environ.get("HEADRACE_API_URL")
    if raw is None:
        from headrace.settings import client_settings

        # The profile's URL with the profile's key (the client reads the key the same way):
        # never one profile's key sent to another server.
        raw = client_settings().api_url
    return ",".join(split_api_urls(raw))


def get_backend(*, require_api: bool = False) -> Backend:
    """The backend for a new top-level flow run: the API if it answers, else offline (said
    once, in one line on stderr). Follows changes of HEADRACE_API_URL (tests start servers)."""
    global _backend
    url = current_api_url()
    with _backend_lock:
        if (
            _backend is not None
            and _backend.api_url == url
            and (_backend.online or not require_api)
        ):
            return _backend
        from headrace.client import HeadraceClient

        client = HeadraceClient(url, api_key=os.environ.get("HEADRACE_API_KEY"))
        # A run that must be recorded (started by a worker) skips the health request: its first
        # real request says soon enough if the API is gone, and one round trip less is on the
        # path of every run's start.
        if require_api or client.health():
            _backend = api_backend(client)
        else:
            client.close()
            print(
                f"headrace: cannot reach the API at {url}; running without recording anything "
                "(no runs, task runs or logs are saved)",
                file=sys.stderr,
                flush=True,
            )
            _backend = offline_backend(url)
        return _backend


def get_current_backend() -> Backend | None:
    """The backend in use, if a flow has run in this process (no connection attempt)."""
    return _backend


def set_backend(backend: Backend | None) -> Backend | None:
    """Use `backend` for the next flow runs (tests); returns the previous one."""
    global _backend
    with _backend_lock:
        previous, _backend = _backend, backend
        if backend is not None and backend.api_url is None:
            backend.api_url = current_api_url()
    return previous
