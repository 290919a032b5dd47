"""Pausing a flow run from its own code, and resuming it with the input it waits for.

A pause is a PAUSED state whose `data` holds its details (`PauseDetails`: key, expiry, the
JSON schema of the RunInput it waits for); the resume is the RUNNING (or, for a Suspended run,
SCHEDULED) state after it, whose `data` holds the pause key it resumed and the input. Both go
through the queue's one state-change path; the history is the record.

A pause that waits for input also writes it among the run's inputs, as Prefect does, under its
keyset (`paused-<key>-schema`, `-description`; the resume `-response`), so that
`RunInput.load(keyset_from_paused_state(state))` reads the input given.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from headrace._state_types import StateType
from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.pauses import (
    PauseDetails,
    PauseOutcome,
    PauseRequest,
    PauseResponse,
    ResumeRequest,
    SuspendRequest,
)
from headrace.schemas.run_inputs import Keyset, keyset_from_base_key, pause_base_key
from headrace_service import queue, run_resume
from headrace_service.api.deps import db, settings
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError
from headrace_service.parameter_schema import check_schema
from headrace_service.queue.state_columns import SUSPENDED
from headrace_service.store import pauses
from headrace_service.store.run_inputs import run_input_put
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
        await _enter_pause(
            conn, rid, body, requester=body.worker_id, lease_seconds=settings(request).lease_seconds
        )
        return PauseResponse(outcome=PauseOutcome.PAUSED, run=await read_run(conn, rid))


@router.route(
    "POST", "/flow_runs/{run_id}/suspend", scope="worker", body=SuspendRequest, response=FlowRun
)
async def suspend_flow_run(request: Request, run_id: str, body: SuspendRequest) -> FlowRun:
    """Suspend another Running run of a deployment: Suspended at once, its worker stops it.

    Once resumed, a worker runs the flow again (`suspend_flow_run(flow_run_id=...)`)."""
    rid = parse_uuid(run_id, "flow run")
    if body.run_input_schema is not None:
        check_schema(body.run_input_schema, "body.run_input_schema")
    async with db(request).begin() as conn:
        run = await read_run(conn, rid)
        if run.deployment_id is None:
            raise ConflictError(
                "cannot suspend: the run is not a deployment's (no worker could start it again "
                "once resumed)"
            )
        if run.state_type is not StateType.RUNNING:
            raise ConflictError(f"cannot suspend: the run is {run.state_name}, not Running")
        if run.worker_id is None:
            # Its process would go on: nothing but a worker's heartbeat stops it.
            raise ConflictError(
                "cannot suspend: no worker runs it (its process could not be stopped)"
            )
        pause = PauseRequest(
            pause_key=body.pause_key or str(uuid.uuid4()),
            timeout_seconds=body.timeout_seconds,
            reschedule=True,
            run_input_schema=body.run_input_schema,
            description=body.description,
        )
        await _enter_pause(
            conn,
            rid,
            pause,
            requester=None,
            lease_seconds=settings(request).lease_seconds,
            by_request=True,
        )
        return await read_run(conn, rid)


async def _enter_pause(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    body: PauseRequest,
    *,
    requester: uuid.UUID | None,
    lease_seconds: float,
    by_request: bool = False,
) -> None:
    """Move the run to Paused (or Suspended) through the one state-change path, its details in
    the state's data and the RunInput it waits for among its inputs; 409 when refused."""
    name = SUSPENDED if body.reschedule else "Paused"
    keyset = (
        keyset_from_base_key(pause_base_key(name, body.pause_key))
        if body.run_input_schema is not None
        else None
    )
    details = PauseDetails(
        pause_key=body.pause_key,
        timeout_seconds=body.timeout_seconds,
        pause_expiration_time=datetime.now(UTC) + timedelta(seconds=body.timeout_seconds),
        reschedule=body.reschedule,
        run_input_schema=body.run_input_schema,
        input_order=list((body.run_input_schema or {}).get("properties") or {}),
        description=body.description,
        run_input_keyset=keyset,
        by_request=by_request,
    )
    waits = "for input" if body.run_input_schema else "to be resumed"
    who = "suspended by request, " if by_request else ""
    change = await queue.flow_run_set_state(
        conn,
        run_id,
        state_type=StateType.PAUSED,
        state_name=name,
        message=f"{who}waiting {waits} (times out after {body.timeout_seconds:g} s)",
        data=details.model_dump(mode="json"),
        requester=requester,
        lease_seconds=lease_seconds,
    )
    if not change.decision.accept:
        verb = "suspend" if by_request else "pause"
        raise ConflictError(f"cannot {verb}: {change.decision.reason}")
    if keyset is not None and body.run_input_schema is not None:
        await _save_input_model(conn, run_id, keyset, body.run_input_schema, body.description)


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


async def _save_input_model(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    keyset: Keyset,
    schema: dict[str, Any],
    description: str | None,
) -> None:
    """The RunInput a pause waits for, among the run's inputs (what `RunInput.save` writes)."""
    await run_input_put(conn, run_id, keyset["schema"], schema)
    if description:
        await run_input_put(conn, run_id, keyset["description"], {"value": description})
