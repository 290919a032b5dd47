"""`DaskTaskRunner`: task calls run on a Dask cluster (the `headrace[dask]` extra).

The call travels to a Dask worker process, possibly on another host, and `run_call_elsewhere`
runs it there (see `headrace.task_runners.distributed` for what a lost worker does to its task run).
"""

from __future__ import annotations

import concurrent.futures
import importlib
from typing import TYPE_CHECKING, Any

from headrace.engine.task_call import run_call_elsewhere
from headrace.task_runners.distributed import DistributedTaskRunner

if TYPE_CHECKING:
    from headrace.calls import TaskCall
    from headrace.states import State

INSTALL_HINT = "DaskTaskRunner needs dask.distributed: pip install 'headrace[dask]'"


class DaskTaskRunner(DistributedTaskRunner):
    """Task calls run on a Dask cluster: the scheduler at `address` ("tcp://host:8786"), or a
    cluster of `cluster_class` (a class or its import path; default `distributed.LocalCluster`)
    made with `cluster_kwargs` for each flow run attempt, scaled by `cluster.adapt(**adapt_kwargs)`
    when given. `client_kwargs` go to `distributed.Client`. Tasks must be importable by name on
    the workers, and their parameters and results must pickle."""

    engine = "Dask"

    def __init__(
        self,
        address: str | None = None,
        cluster_class: str | type[Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        adapt_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if address is not None and (cluster_class is not None or cluster_kwargs):
            raise ValueError("give either address or cluster_class/cluster_kwargs, not both")
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self._client: Any = None
        self._cluster: Any = None

    def duplicate(self) -> DaskTaskRunner:
        return type(self)(
            self.address,
            self.cluster_class,
            self.cluster_kwargs,
            self.adapt_kwargs,
            self.client_kwargs,
        )

    @property
    def client(self) -> Any:
        """The `distributed.Client` of this attempt (connecting on first use)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _send(self, call: TaskCall, final: concurrent.futures.Future[State[Any]]) -> None:
        sent = self.client.submit(
            run_call_elsewhere,
            call,
            key=f"{call.task_run_name}-{call.task_run_id}-{call.runs_before}",
            pure=False,
        )

        # Dask runs done-callbacks in a thread of its own, never on its event loop.
        def settle(done: Any) -> None:
            if done.status == "finished":
                final.set_result(done.result())
            else:
                self._lost(call, done.exception(), final)

        sent.add_done_callback(settle)

    def _connect(self) -> Any:
        try:
            import dask
            import distributed
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        if self.address is not None:
            return distributed.Client(self.address, **self.client_kwargs)  # type: ignore[no-untyped-call]
        cluster_class = _class_of(self.cluster_class or distributed.LocalCluster)
        # A worker lost mid-task is headrace's to handle (Crashed, then the task's own retries):
        # Dask must not quietly run the call again elsewhere.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self._cluster = cluster_class(**self.cluster_kwargs)
        if self.adapt_kwargs:
            self._cluster.adapt(**self.adapt_kwargs)
        return distributed.Client(self._cluster, **self.client_kwargs)  # type: ignore[no-untyped-call]

    def __exit__(self, *exc: object) -> None:
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __repr__(self) -> str:
        kind = self.cluster_class
        where = kind.__name__ if isinstance(kind, type) else kind
        return f"DaskTaskRunner({self.address or where or 'LocalCluster'})"


def _class_of(cluster_class: str | type[Any]) -> type[Any]:
    """A cluster class given as itself or as "package.module.ClassName"."""
    if not isinstance(cluster_class, str):
        return cluster_class
    module, _, name = cluster_class.rpartition(".")
    if not module:
        raise ValueError(f"cluster_class {cluster_class!r} must be 'module.ClassName'")
    found: type[Any] = getattr(importlib.import_module(module), name)
    return found
