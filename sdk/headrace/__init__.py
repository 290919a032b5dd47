"""headrace: two decorators make a script's runs tracked, retried and scheduled.

    from headrace import flow, task

Importing headrace is cheap: everything is loaded on first use (httpx and pydantic only when a
flow runs or a client is built).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headrace import runtime as runtime
    from headrace.caching import INPUTS, NONE, RUN_ID, TASK_SOURCE, CachePolicy, task_input_hash
    from headrace.context import get_run_context
    from headrace.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
    from headrace.flows import Flow, flow
    from headrace.futures import (
        HeadraceFuture,
        PrefectFuture,
        allow_failure,
        as_completed,
        unmapped,
        wait,
    )
    from headrace.logging import get_run_logger
    from headrace.not_offered import get_client
    from headrace.retries import exponential_backoff
    from headrace.serving import deploy, serve
    from headrace.states import State
    from headrace.tagging import tags
    from headrace.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from headrace.tasks import Task, task

__version__ = "0.1.0"

# name -> module that defines it, imported on first access (PEP 562).
_LAZY = {
    "flow": "headrace.flows",
    "Flow": "headrace.flows",
    "task": "headrace.tasks",
    "Task": "headrace.tasks",
    "get_run_logger": "headrace.logging",
    "get_run_context": "headrace.context",
    "tags": "headrace.tagging",
    "State": "headrace.states",
    "HeadraceFuture": "headrace.futures",
    "wait": "headrace.futures",
    "as_completed": "headrace.futures",
    "unmapped": "headrace.futures",
    "allow_failure": "headrace.futures",
    "ProcessPoolTaskRunner": "headrace.task_runners",
    "ThreadPoolTaskRunner": "headrace.task_runners",
    "exponential_backoff": "headrace.retries",
    "PrefectFuture": "headrace.futures",
    "pause_flow_run": "headrace.flow_runs",
    "resume_flow_run": "headrace.flow_runs",
    "suspend_flow_run": "headrace.flow_runs",
    "serve": "headrace.serving",
    "deploy": "headrace.serving",
    "get_client": "headrace.not_offered",
    "task_input_hash": "headrace.caching",
    "CachePolicy": "headrace.caching",
    "INPUTS": "headrace.caching",
    "TASK_SOURCE": "headrace.caching",
    "RUN_ID": "headrace.caching",
    "NONE": "headrace.caching",
}

__all__ = [
    "INPUTS",
    "NONE",
    "RUN_ID",
    "TASK_SOURCE",
    "CachePolicy",
    "Flow",
    "HeadraceFuture",
    "PrefectFuture",
    "ProcessPoolTaskRunner",
    "State",
    "Task",
    "ThreadPoolTaskRunner",
    "allow_failure",
    "as_completed",
    "deploy",
    "exponential_backoff",
    "flow",
    "get_client",
    "get_run_context",
    "get_run_logger",
    "pause_flow_run",
    "resume_flow_run",
    "serve",
    "suspend_flow_run",
    "tags",
    "task",
    "task_input_hash",
    "unmapped",
    "wait",
]


# Submodules reached as attributes: `from headrace import runtime`, then `runtime.flow_run.name`
# (not in __all__, which lists objects only).
_SUBMODULES = frozenset({"runtime"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"headrace.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
