"""State hooks (`on_completion`, `on_failure`, ...): called after a run reaches its final state.

A hook that raises is logged and changes nothing: the run's state is already decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
            hook(*args)
        except Exception:
            logger.exception("hook %r raised; the run's state is unchanged", name)


def as_list(hooks: Hook | Sequence[Hook] | None) -> list[Hook]:
    if hooks is None:
        return []
    if callable(hooks):
        return [hooks]
    return list(hooks)
