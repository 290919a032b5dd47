"""`headrace.runtime.deployment`: the deployment whose run is in progress (`.id`, `.name`,
`.parameters`, `.flow_run_id`); None / empty in a run that no deployment made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headrace.context import flow_run_context
from headrace.runtime import flow_run
from headrace.runtime._attributes import attribute_reader


def get_id() -> str | None:
    flow_ctx = flow_run_context.get()
    info = flow_ctx.info if flow_ctx is not None else None
    return str(info.deployment_id) if info is not None and info.deployment_id else None


def get_name() -> str | None:
    flow_ctx = flow_run_context.get()
    info = flow_ctx.info if flow_ctx is not None else None
    return info.deployment_name if info is not None and info.deployment_id else None


def get_parameters() -> dict[str, Any]:
    """The parameters the run was made with (the deployment's defaults merged with those
    of the run); a run no deployment made answers its own, as Prefect does."""
    return flow_run.get_parameters()


def get_flow_run_id() -> str | None:
    return flow_run.get_id()


_GETTERS: dict[str, Callable[[], Any]] = {
    "id": get_id,
    "name": get_name,
    "parameters": get_parameters,
    "flow_run_id": get_flow_run_id,
}

__all__ = sorted(_GETTERS)
__getattr__, __dir__ = attribute_reader("headrace.runtime.deployment", _GETTERS)
