"""Pool types: what a worker does with a claimed run. A small plug-in interface.

A pool type starts a claimed run and returns a `RunHandle`; the worker only ever waits on,
cancels or abandons handles, so a new type (a container, a Kubernetes job) adds one class here and
its name in `headrace.pool_types.KNOWN_POOL_TYPES`, and nothing else changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from headrace.client import HeadraceClient
from headrace.pool_types import KNOWN_POOL_TYPES, PROCESS, unknown_pool_type_message
from headrace.reporter import Reporter
from headrace.schemas.work_pools import ClaimedRun
from headrace_worker.settings import WorkerSettings


@dataclass(frozen=True)
class RunContext:
    """What a pool type gets from the worker that runs it."""

    client: HeadraceClient
    worker_id: uuid.UUID
    # Passed on to the run's process, which reports to the API itself.
    api_key: str | None
    # Buffers log lines and sends them to `POST /logs` in batches from its own thread.
    logs: Reporter
    settings: WorkerSettings


class RunHandle(Protocol):
    """One run being executed; every method returns at once unless it says it waits."""

    @property
    def run_id(self) -> uuid.UUID: ...

    def done(self) -> bool:
        """The execution ended and its outcome was reported."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until `done()`; False on timeout."""
        ...

    def cancel(self, reason: str) -> None:
        """Stop the run (gracefully, then by force) and report it Cancelled."""
        ...

    def abandon(self) -> None:
        """Stop the run by force and report nothing: the worker lost its lease (it was fenced)."""
        ...


class PoolType(Protocol):
    name: str

    def start(self, run: ClaimedRun, on_exit: Callable[[RunHandle], None]) -> RunHandle:
        """Start executing `run`; `on_exit(handle)` is called once, when it is done."""
        ...


def pool_type(name: str, context: RunContext) -> PoolType:
    """The pool type called `name`; ValueError listing the known types otherwise."""
    # Imported here: each implementation may pull in what only it needs.
    from headrace_worker.process_runner import ProcessPoolType

    factories: dict[str, Callable[[RunContext], PoolType]] = {PROCESS: ProcessPoolType}
    assert set(factories) == set(KNOWN_POOL_TYPES), "every known pool type needs a runner"
    factory = factories.get(name)
    if factory is None:
        raise ValueError(unknown_pool_type_message(name))
    return factory(context)
