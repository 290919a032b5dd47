"""Task runs: batch ingestion from the SDK, reads."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.common import State
from headrace.schemas.task_runs import BatchAccepted, TaskRun, TaskRunBatch, TaskRunDetail
from headrace_service.api.deps import db, live_pages_listen, to_model
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import NotFoundError
from headrace_service.store import task_runs as store
from headrace_service.validation import parse_uuid

router = Router("task_runs")


@router.route(
    "POST",
    "/task_runs/batch",
    scope="worker",
    body=TaskRunBatch,
    response=BatchAccepted,
    status=201,
)
async def report_task_runs(request: Request, body: TaskRunBatch) -> BatchAccepted:
    """Upsert task runs with the states they went through (idempotent)."""
    run_ids = {report.flow_run_id for report in body.task_runs}
    async with db(request).begin() as conn:
        for run_id in run_ids:
            await read_run(conn, run_id)
        accepted = await store.task_runs_upsert(
            conn, body.task_runs, announce=live_pages_listen(request)
        )
    return BatchAccepted(accepted=accepted)


@router.route("GET", "/flow_runs/{run_id}/task_runs", response=list[TaskRun])
async def list_task_runs(request: Request, run_id: str) -> list[TaskRun]:
    """The task runs of a flow run, in start order."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)
        rows = await store.task_runs_of_flow_run(conn, rid)
    return [to_model(TaskRun, r) for r in rows]


@router.route("GET", "/task_runs/{task_run_id}", response=TaskRunDetail)
async def read_task_run(request: Request, task_run_id: str) -> TaskRunDetail:
    """Read a task run with its state history."""
    tid = parse_uuid(task_run_id, "task run")
    async with db(request).begin() as conn:
        row = await store.task_run_get(conn, tid)
        if row is None:
            raise NotFoundError(f"task run {task_run_id} not found")
        states = await store.task_run_states(conn, tid)
    return TaskRunDetail.model_validate(
        {**row, "states": [to_model(State, s).model_dump() for s in states]}
    )
