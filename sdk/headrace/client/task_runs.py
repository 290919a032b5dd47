"""`/task_runs`: task runs, reported by the SDK in batches."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.flow_runs import path as flow_run_path
from headrace.client.transport import segment
from headrace.schemas.task_runs import BatchAccepted, TaskRun, TaskRunBatch, TaskRunDetail

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

TASK_RUNS = TypeAdapter(list[TaskRun])


def report(client: HeadraceClient, body: TaskRunBatch, **options: Any) -> BatchAccepted:
    """Upsert task runs with the states they went through (idempotent by id)."""
    return client.call("POST", "/task_runs/batch", BatchAccepted, body, **options)


def of_flow_run(client: HeadraceClient, flow_run_id: uuid.UUID | str) -> list[TaskRun]:
    return client.call_list("GET", f"{flow_run_path(flow_run_id)}/task_runs", TASK_RUNS)


def read(client: HeadraceClient, task_run_id: uuid.UUID | str) -> TaskRunDetail:
    return client.call("GET", f"/task_runs/{segment(task_run_id)}", TaskRunDetail)
