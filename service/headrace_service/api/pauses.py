"""Pausing a flow run from its own code, and resuming it with the input it waits for.

A pause is a PAUSED state whose `data` holds its details (`PauseDetails`: key, expiry, the
JSON schema of the RunInput it waits for); the resume is the RUNNING (or, for a Suspended run,
SCHEDULED) state after it, whose `data` holds the pause key it resumed and the input. Both go
through the queue's one state-change path; the history is the record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from headrace._state_types import StateType
from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.pauses import (
    PauseDetails,
    PauseOutcome,
    PauseRequest,
    PauseResponse,
    ResumeRequest,
)
from headrace_service import queue, run_resume
from headrace_service.api.deps import db, settings
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError
from headrace_service.parameter_schema import check_schema
from headrace_service.queue.state_columns import SUSPENDED
from headrace_service.store import pauses
from headrace_service.validation import parse_uuid

router = Router("flow_runs")


@router.route(
    "POST", "/flow_runs/{run_id}/pause", scope="worker", body=PauseRequest, response=PauseResponse
)
async def pause_flow_run(request: Request, run_id: str, body: PauseRequest) -> PauseResponse:
    """Pause a Running run (its process waits), or suspend it (its process exits); when this
    pause key was resumed before, say so with the input it was given and change nothing."""
    rid = parse_uuid(run_id, "flow run")
    if body.run_input_schema is not None:
        check_schema(body.run_input_schema, "body.run_input_schema")
    async with db(request).begin() as conn:
        resumed = await pauses.pause_resumed(conn, rid, body.pause_key)
        if resumed is not None:
            return PauseResponse(
                outcome=PauseOutcome.RESUMED,
                run=await read_run(conn, rid),
                run_input=(resumed["data"] or {}).get("run_input"),
            )
        details = PauseDetails(
            pause_key=body.pause_key,
            timeout_seconds=body.timeout_seconds,
            pause_expiration_time=datetime.now(UTC) + timedelta(seconds=body.timeout_seconds),
            reschedule=body.reschedule,
            run_input_schema=body.run_input_schema,
            input_order=list((body.run_input_schema or {}).get("properties") or {}),
            description=body.description,
        )
        waits = "for input" if body.run_input_schema else "to be resumed"
        change = await queue.flow_run_set_state(
            conn,
            rid,
            state_type=StateType.PAUSED,
            state_name=SUSPENDED if body.reschedule else "Paused",
            message=f"waiting {waits} (times out after {body.timeout_seconds:g} s)",
            data=details.model_dump(mode="json"),
            requester=body.worker_id,
            lease_seconds=settings(request).lease_seconds,
        )
        if not change.decision.accept:
            raise ConflictError(f"cannot pause: {change.decision.reason}")
        return PauseResponse(outcome=PauseOutcome.PAUSED, run=await read_run(conn, rid))


@router.route(
    "POST", "/flow_runs/{run_id}/resume", scope="worker", body=ResumeRequest, response=FlowRun
)
async def resume_flow_run(request: Request, run_id: str, body: ResumeRequest) -> FlowRun:
    """Resume a Paused run (Running again) or a Suspended one (Scheduled for a worker), with
    the input it waits for, checked against its RunInput's JSON schema (422 naming the field)."""
    rid = parse_uuid(run_id, "flow run")
    lease_seconds = settings(request).lease_seconds
    async with db(request).begin() as conn:
        reason = await run_resume.fail_timed_out_suspension(conn, rid, lease_seconds)
    if reason is not None:  # after the commit: a Suspended run stays Failed
        raise ConflictError(f"cannot resume: {reason}")
    async with db(request).begin() as conn:
        await run_resume.resume_paused(conn, rid, body.run_input, lease_seconds)
        return await read_run(conn, rid)
