"""Task runners run submitted task runs concurrently; `ThreadPoolTaskRunner` is the default."""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TaskRunner:
    """Runs callables concurrently within one flow run; entered when the flow run starts and
    exited (waiting for everything submitted) when it ends."""

    def duplicate(self) -> TaskRunner:
        """A fresh runner with the same options: each flow run gets its own."""
        raise NotImplementedError

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        raise NotImplementedError

    def __enter__(self) -> TaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ThreadPoolTaskRunner(TaskRunner):
    """Submitted task runs run in a pool of `max_workers` threads (default: Python's default
    for a ThreadPoolExecutor)."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        if self._pool is None:
            # Threads are started on the first submit: flows that never submit pay nothing.
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self.max_workers, thread_name_prefix="headrace-task"
            )
        # The flow's context (run ids, tags, log capture) follows the task into the thread.
        context = contextvars.copy_context()
        return self._pool.submit(context.run, fn)

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"
