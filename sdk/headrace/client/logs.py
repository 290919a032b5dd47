"""`/logs`: log lines of flow and task runs."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from headrace.client.flow_runs import path as flow_run_path
from headrace.schemas.logs import LogBatch, LogList, LogQuery
from headrace.schemas.task_runs import BatchAccepted

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient


def create(client: HeadraceClient, body: LogBatch, **options: Any) -> BatchAccepted:
    return client.call("POST", "/logs", BatchAccepted, body, **options)


def create_raw(client: HeadraceClient, body: bytes, **options: Any) -> None:
    """Send a batch already serialised as the JSON of `LogBatch.logs` (a list of lines)."""
    client.request(
        "POST",
        "/logs",
        content=b'{"logs":' + body + b"}",
        headers={"content-type": "application/json"},
        **options,
    )


def of_flow_run(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, query: LogQuery, **options: Any
) -> LogList:
    """A page of a run's lines, oldest first; pass `next_after` back as `after` to go on."""
    return client.call("GET", f"{flow_run_path(flow_run_id)}/logs", LogList, query=query, **options)
