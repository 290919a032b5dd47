"""State hooks (`on_completion`, `on_failure`, ...): called after a run reaches its final state.

A hook that raises is logged and changes nothing: the run's state is already decided. An
`async def` hook is awaited to its end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Hook = Callable[..., Any]


def run_hooks(
    hooks: Sequence[Hook],
    logger: logging.LoggerAdapter,  # type: ignore[type-arg]
    *args: Any,
) -> None:
    for hook in hooks:
        name = getattr(hook, "__name__", repr(hook))
        try:
            outcome = hook(*args)
            if inspect.isawaitable(outcome):
                _await(outcome)  # an `async def` hook, as Prefect runs them
        except Exception:
            logger.exception("hook %r raised; the run's state is unchanged", name)


def _await(awaitable: Awaitable[Any]) -> None:
    """Run an async hook to its end from sync code: on this thread when no event loop runs
    here, else on a thread of its own (the async engines call hooks from their loop)."""

    async def main() -> None:
        await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(context.run, asyncio.run, main()).result()


class Hooks(list[Hook]):
    """The hooks of one kind on a flow or task; also a decorator that adds one, as in Prefect:

    @my_task.on_completion
    def notify(task, task_run, state): ...
    """

    def __call__(self, hook: Hook) -> Hook:
        self.append(hook)
        return hook


def as_list(hooks: Hook | Sequence[Hook] | None) -> Hooks:
    if hooks is None:
        return Hooks()
    if isinstance(hooks, (list, tuple)):  # a Hooks list (from `with_options`) is a list too
        return Hooks(hooks)
    if callable(hooks):
        return Hooks([hooks])
    return Hooks(hooks)
