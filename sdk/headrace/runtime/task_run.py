"""`headrace.runtime.task_run`: the task run in progress (`.id`, `.name`, `.task_name`,
`.parameters`, `.run_count`, `.tags`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headrace.context import task_run_context
from headrace.runtime._attributes import attribute_reader


def get_id() -> str | None:
    task_ctx = task_run_context.get()
    return str(task_ctx.record.id) if task_ctx is not None else None


def get_name() -> str | None:
    task_ctx = task_run_context.get()
    return task_ctx.record.name if task_ctx is not None else None


def get_task_name() -> str | None:
    task_ctx = task_run_context.get()
    return task_ctx.task.name if task_ctx is not None else None


def get_parameters() -> dict[str, Any]:
    task_ctx = task_run_context.get()
    return task_ctx.parameters if task_ctx is not None else {}


def get_run_count() -> int:
    task_ctx = task_run_context.get()
    return task_ctx.record.run_count if task_ctx is not None else 0


def get_tags() -> list[str]:
    task_ctx = task_run_context.get()
    return list(task_ctx.record.tags) if task_ctx is not None else []


_GETTERS: dict[str, Callable[[], Any]] = {
    "id": get_id,
    "name": get_name,
    "task_name": get_task_name,
    "parameters": get_parameters,
    "run_count": get_run_count,
    "tags": get_tags,
}

__all__ = sorted(_GETTERS)
__getattr__, __dir__ = attribute_reader("headrace.runtime.task_run", _GETTERS)
