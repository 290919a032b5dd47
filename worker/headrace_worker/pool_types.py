"""Pool types: what a worker does with a claimed run. A small plug-in interface.

A pool type starts a claimed run and returns a `RunHandle`; the worker only ever waits on,
cancels or abandons handles. A type may also have `prepare()` (called once the worker has
registered, to get ready for runs) and `close()` (called when the worker stops). A type is a
plug-in: a class taking a `RunContext`, registered under the entry-point group
`headrace.pool_types` by its distribution (docs/work-pools.md), so a new type (a container, a
Kubernetes job) is a package of its own and nothing here changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from headrace.client import HeadraceClient
from headrace.pool_types import installed_pool_types, unknown_pool_type_message
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
    # The JSON schema of the deployment job variables this type reads; the worker announces it
    # when it registers. A plug-in class declares it as a class attribute.
    job_variables_schema: ClassVar[dict[str, Any]]

    def start(self, run: ClaimedRun, on_exit: Callable[[RunHandle], None]) -> RunHandle:
        """Start executing `run`; `on_exit(handle)` is called once, when it is done."""
        ...


PoolTypeFactory = Callable[[RunContext], PoolType]


def pool_type_factory(name: str) -> PoolTypeFactory:
    """The installed pool type called `name`; ValueError listing the installed types otherwise."""
    point = installed_pool_types().get(name)
    if point is None:
        raise ValueError(unknown_pool_type_message(name))
    # Loaded only now: each plug-in may pull in what only it needs.
    factory: PoolTypeFactory = point.load()
    return factory


def job_variables_schema(factory: PoolTypeFactory) -> dict[str, Any]:
    """The schema the plug-in declares (see `PoolType`); any object when it declares none."""
    declared: dict[str, Any] | None = getattr(factory, "job_variables_schema", None)
    return dict(declared) if declared is not None else {"type": "object"}


def pool_type(name: str, context: RunContext) -> PoolType:
    """The installed pool type called `name`, built for this worker."""
    return pool_type_factory(name)(context)
