"""Task runners run the task calls a flow run submits; `ThreadPoolTaskRunner` is the default.

A runner receives a `TaskCall` (picklable: the task by reference, its resolved parameters, its
task run's identity and a snapshot of the flow's context) and returns a future of the task run's
final state. A runner whose workers are other processes or hosts (`ProcessPoolTaskRunner`, a Dask
or Ray runner) sends the call there and has it executed by `run_call_elsewhere`, which reports
the task run's states and logs to the API itself.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from typing import TYPE_CHECKING, Any

from headrace.engine.task_call import run_call, run_pickled_call

if TYPE_CHECKING:
    from headrace.calls import TaskCall
    from headrace.states import State


class TaskRunner:
    """Runs task calls concurrently within one flow run attempt; entered when the attempt starts
    and exited (waiting for everything submitted) when it ends."""

    def duplicate(self) -> TaskRunner:
        """A fresh runner with the same options: each flow run attempt gets its own."""
        raise NotImplementedError

    def submit(self, call: TaskCall) -> concurrent.futures.Future[State[Any]]:
        """Start running `call`; the future resolves to the task run's final state."""
        raise NotImplementedError

    def __enter__(self) -> TaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _PoolTaskRunner(TaskRunner):
    """A runner over a `concurrent.futures` executor of `max_workers`, started on the first
    submit: flows that never submit pay nothing."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self._pool: concurrent.futures.Executor | None = None

    def duplicate(self) -> _PoolTaskRunner:
        return type(self)(self.max_workers)

    def submit(self, call: TaskCall) -> concurrent.futures.Future[State[Any]]:
        if self._pool is None:
            self._pool = self._new_pool()
        return self._submit(self._pool, call)

    def _new_pool(self) -> concurrent.futures.Executor:
        raise NotImplementedError

    def _submit(
        self, pool: concurrent.futures.Executor, call: TaskCall
    ) -> concurrent.futures.Future[State[Any]]:
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"


class ThreadPoolTaskRunner(_PoolTaskRunner):
    """Task calls run in this process, in a pool of `max_workers` threads (default: Python's
    default for a ThreadPoolExecutor)."""

    def _new_pool(self) -> concurrent.futures.Executor:
        return concurrent.futures.ThreadPoolExecutor(
            self.max_workers, thread_name_prefix="headrace-task"
        )

    def _submit(
        self, pool: concurrent.futures.Executor, call: TaskCall
    ) -> concurrent.futures.Future[State[Any]]:
        # In-process, the flow's context (print capture, the flow run for tasks the task calls)
        # follows the call into the thread.
        context = contextvars.copy_context()
        return pool.submit(context.run, run_call, call)


class ProcessPoolTaskRunner(_PoolTaskRunner):
    """Task calls run in a pool of `max_workers` worker processes (started with "spawn"), for
    CPU-bound tasks. Tasks must be importable module-level functions, and their parameters and
    results must pickle. A task run there reports to the API itself; tasks it calls are plain
    function calls (no flow run is in progress in the worker process)."""

    def _new_pool(self) -> concurrent.futures.Executor:
        # Here: multiprocessing costs ~6 ms at import; only process pools need it.
        import multiprocessing

        # "spawn": forking a process with threads (the reporter, the pool) may deadlock.
        return concurrent.futures.ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    def _submit(
        self, pool: concurrent.futures.Executor, call: TaskCall
    ) -> concurrent.futures.Future[State[Any]]:
        # Here: cloudpickle is needed only by process pools. It carries a script's own task
        # functions by value (the pool's processes do not see `__main__` as the script has it).
        import cloudpickle

        return pool.submit(run_pickled_call, cloudpickle.dumps(call))


# Prefect's older name for the thread pool runner (`from prefect.task_runners import ...`).
ConcurrentTaskRunner = ThreadPoolTaskRunner

# Runners over an optional engine, loaded on first use: their modules build on this one and
# `import headrace` must not need dask.
_OPTIONAL_RUNNERS = {
    "DaskTaskRunner": "headrace.task_runners.dask",
    "RayTaskRunner": "headrace.task_runners.ray",
}


def __getattr__(name: str) -> Any:
    if name in _OPTIONAL_RUNNERS:
        import importlib

        return getattr(importlib.import_module(_OPTIONAL_RUNNERS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
