"""Logs: batch ingestion and tail reads."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.logs import Log, LogBatch, LogList, LogQuery
from headrace.schemas.task_runs import BatchAccepted
from headrace_service.api.deps import db, live_pages_listen, to_model
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router, validate_json
from headrace_service.app_state import request_state
from headrace_service.store import logs as store
from headrace_service.validation import parse_uuid

router = Router("logs")


@router.route(
    "POST",
    "/logs",
    scope="worker",
    body=LogBatch,
    response=BatchAccepted,
    status=201,
    raw_body=True,
)
async def write_logs(request: Request, body: bytes) -> BatchAccepted:
    """Store a batch of log lines (lines of unknown runs are dropped)."""
    # Validated, then kept as its bytes only while it waits for a writer (store.JsonBatch).
    batch = store.JsonBatch.of(body, validate_json(LogBatch, body))
    async with request_state(request)["log_writers"], db(request).begin() as conn:
        accepted = await store.logs_insert(conn, batch, announce=live_pages_listen(request))
    return BatchAccepted(accepted=accepted)


@router.route("GET", "/flow_runs/{run_id}/logs", query=LogQuery, response=LogList)
async def read_logs(request: Request, run_id: str, query: LogQuery) -> LogList:
    """A run's log lines in arrival order; pass `next_after` back as `after` to tail."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)
        rows = await store.logs_of_flow_run(
            conn, rid, after=query.after, min_level=query.level, limit=query.limit
        )
    items = [to_model(Log, r) for r in rows]
    return LogList(items=items, next_after=items[-1].id if items else query.after)
