"""`headrace.runtime.flow_run`: the flow run in progress (`.id`, `.name`, `.parameters`,
`.scheduled_start_time`, `.run_count`, `.tags`, `.flow_name`, `.parent_flow_run_id`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from headrace.context import flow_run_context, naming_context, task_run_context
from headrace.runtime._attributes import attribute_reader


def get_id() -> str | None:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return str(flow_ctx.flow_run_id)
    task_ctx = task_run_context.get()
    # A task run in another process (a process pool) knows its flow run by id only.
    return str(task_ctx.record.flow_run_id) if task_ctx is not None else None


def get_name() -> str | None:
    flow_ctx = flow_run_context.get()
    return flow_ctx.flow_run_name if flow_ctx is not None else None


def get_flow_name() -> str | None:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.flow.name
    naming = naming_context.get()
    return naming.flow.name if naming is not None else None


def get_parameters() -> dict[str, Any]:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.parameters
    naming = naming_context.get()
    return naming.parameters if naming is not None else {}


def get_tags() -> list[str]:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None and flow_ctx.info is not None:
        return list(flow_ctx.info.tags)
    naming = naming_context.get()
    return list(naming.tags) if naming is not None else []


def get_run_count() -> int:
    flow_ctx = flow_run_context.get()
    return flow_ctx.run_count if flow_ctx is not None else 0


def get_scheduled_start_time() -> datetime:
    """When the run was meant to start; now, outside a run (as in Prefect)."""
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None and flow_ctx.info is not None:
        expected = flow_ctx.info.expected_start_time
        if expected is not None:
            return expected
    return datetime.now(UTC)


def get_parent_flow_run_id() -> str | None:
    flow_ctx = flow_run_context.get()
    parent = flow_ctx.parent_flow_run_id if flow_ctx is not None else None
    return str(parent) if parent is not None else None


_GETTERS: dict[str, Callable[[], Any]] = {
    "id": get_id,
    "name": get_name,
    "flow_name": get_flow_name,
    "parameters": get_parameters,
    "tags": get_tags,
    "run_count": get_run_count,
    "scheduled_start_time": get_scheduled_start_time,
    "parent_flow_run_id": get_parent_flow_run_id,
}

__all__ = sorted(_GETTERS)
__getattr__, __dir__ = attribute_reader("headrace.runtime.flow_run", _GETTERS)
