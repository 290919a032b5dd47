"""`RayTaskRunner`: task calls run on Ray (the `headrace[ray]` extra).

The call travels to a Ray worker process, possibly on another node, and `run_call_elsewhere`
runs it there (see `headrace.task_runners.distributed` for what a lost worker does to its task run).
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from headrace.engine.task_call import run_call_elsewhere
from headrace.task_runners.distributed import DistributedTaskRunner

if TYPE_CHECKING:
    from headrace.calls import TaskCall
    from headrace.states import State

INSTALL_HINT = "RayTaskRunner needs ray: pip install 'headrace[ray]'"


class RayTaskRunner(DistributedTaskRunner):
    """Task calls run on Ray: the cluster at `address` ("ray://head:10001", or "auto"), or a
    local Ray started for the flow run attempt when `address` is None and none is running.
    `init_kwargs` go to `ray.init`. Tasks must be importable by name on the workers, and their
    parameters and results must pickle."""

    engine = "Ray"

    def __init__(self, address: str | None = None, init_kwargs: dict[str, Any] | None = None):
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self._remote: Any = None
        self._started = False

    def duplicate(self) -> RayTaskRunner:
        return type(self)(self.address, self.init_kwargs)

    def _send(self, call: TaskCall, final: concurrent.futures.Future[State[Any]]) -> None:
        if self._remote is None:
            self._remote = self._connect()
        sent: concurrent.futures.Future[State[Any]] = self._remote.remote(call).future()

        def settle(done: concurrent.futures.Future[State[Any]]) -> None:
            exc = done.exception()
            if exc is None:
                final.set_result(done.result())
            else:
                self._lost(call, exc, final)

        sent.add_done_callback(settle)

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
            self._started = True
        # max_retries=0: a lost worker is headrace's to handle (Crashed, then the task's own
        # retries); Ray must not quietly run the call again.
        return ray.remote(max_retries=0)(run_call_elsewhere)

    def __exit__(self, *exc: object) -> None:
        started, self._started, self._remote = self._started, False, None
        if started:
            import ray

            ray.shutdown()

    def __repr__(self) -> str:
        return f"RayTaskRunner({self.address or 'local'})"
