"""Cancelling a flow run: at once when nothing executes it yet, else through its worker."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.flow_runs import FlowRun
from headrace_service import queue
from headrace_service.api.deps import db, settings
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError
from headrace_service.validation import parse_uuid

router = Router("flow_runs")


@router.route("POST", "/flow_runs/{run_id}/cancel", scope="worker", response=FlowRun)
async def cancel_flow_run(request: Request, run_id: str) -> FlowRun:
    """Cancel a run: SCHEDULED/PENDING -> Cancelled; RUNNING -> Cancelling (its worker stops it)."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        change = await queue.flow_run_cancel(
            conn, rid, lease_seconds=settings(request).lease_seconds
        )
        if not change.decision.accept:
            raise ConflictError(f"cannot cancel: {change.decision.reason}")
        return await read_run(conn, rid)
