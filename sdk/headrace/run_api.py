"""The API client behind the helpers that user code calls inside or outside a run (artifacts,
variables), and which run and task run is calling.

Inside a run: the client of the run's backend settings (its API URL and key); a run recording
nothing (no API reachable) has none, and the helpers say so instead of failing the run. Outside
a run: HEADRACE_API_URL / the active profile, like any client. One client per URL and key is
kept for the process, so repeated calls reuse their connection.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headrace.context import flow_run_context, task_run_context

if TYPE_CHECKING:
    from headrace.client import HeadraceClient

_clients: dict[tuple[str, str | None], HeadraceClient] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    """Who calls: the flow run and task run in progress (None outside one), and the client to
    reach the API with (None: this run records nothing)."""

    flow_run_id: uuid.UUID | None
    task_run_id: uuid.UUID | None
    client: HeadraceClient | None


def caller() -> Caller:
    task_ctx = task_run_context.get()
    flow_ctx = flow_run_context.get()
    task_run_id = task_ctx.record.id if task_ctx is not None else None
    if task_ctx is not None:
        flow_run_id: uuid.UUID | None = task_ctx.record.flow_run_id
    else:
        flow_run_id = flow_ctx.flow_run_id if flow_ctx is not None else None
    if flow_ctx is not None:
        backend = flow_ctx.backend
        if not backend.online:
            return Caller(flow_run_id, task_run_id, None)
        return Caller(flow_run_id, task_run_id, client(backend.api_url, backend.api_key))
    return Caller(flow_run_id, task_run_id, client())


def client(api_url: str | None = None, api_key: str | None = None) -> HeadraceClient:
    """The process's client of `api_url` with `api_key` (default: the settings')."""
    # Here: the client loads httpx and pydantic, which `import headrace` must not.
    from headrace.client import HeadraceClient
    from headrace.ports.backend import current_api_url

    url = api_url or current_api_url()
    key = api_key if api_key is not None else os.environ.get("HEADRACE_API_KEY")
    with _clients_lock:
        found = _clients.get((url, key))
        if found is None:
            found = _clients[(url, key)] = HeadraceClient(url, api_key=key)
        return found
