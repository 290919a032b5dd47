"""One name for a sync and an async implementation, as Prefect 3 does: called from async code
(an async flow or task, or a running event loop outside a run) it returns the coroutine to
await; from sync code it runs at once. `_sync=True`/`False` forces one, `.aio` is the async one.

So `await create_markdown_artifact(...)` in an async flow and `create_markdown_artifact(...)` in
a sync one both work, as on Prefect.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from headrace.context import flow_run_context, task_run_context

P = ParamSpec("P")
R = TypeVar("R")


def in_async_context() -> bool:
    """Inside an async task or flow; outside a run, when an event loop is running here."""
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return bool(getattr(task_ctx.task, "isasync", False))
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return bool(getattr(flow_ctx.flow, "isasync", False))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def async_dispatch(
    async_impl: Callable[..., Coroutine[Any, Any, Any]] | classmethod[Any, Any, Any],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make the decorated sync function dispatch to `async_impl` in async contexts. Typed as
    the sync function: in async code the result is its coroutine. A classmethod's async form
    is given as the classmethod (the class body's name for it)."""
    run_async: Callable[..., Coroutine[Any, Any, Any]] = (
        async_impl.__func__ if isinstance(async_impl, classmethod) else async_impl
    )

    def decorate(sync_impl: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(sync_impl)
        def dispatch(*args: P.args, **kwargs: P.kwargs) -> R:
            forced = kwargs.pop("_sync", None)
            run_sync = bool(forced) if forced is not None else not in_async_context()
            if run_sync:
                return sync_impl(*args, **kwargs)
            return cast(R, run_async(*args, **kwargs))

        dispatch.aio = run_async  # type: ignore[attr-defined]
        return dispatch

    return decorate
