"""Resuming a paused flow run: the one path of the API's resume and of the automations'
`resume-flow-run` (and what `suspend-flow-run` reads). A pause is a PAUSED state whose `data`
holds its details (`PauseDetails`); the resume is the RUNNING (or, for a Suspended run,
SCHEDULED "Resuming") state after it, with the pause key it resumed and the input.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace.schemas.pauses import PauseDetails
from headrace_service import queue
from headrace_service.errors import ConflictError, InvalidInput, NotFoundError
from headrace_service.parameter_schema import check_parameters
from headrace_service.store import flow_runs as run_store
from headrace_service.store import pauses
from headrace_service.store.run_inputs import run_input_put


async def pause_details(conn: AsyncConnection, run_id: uuid.UUID) -> PauseDetails | None:
    """What the run's newest pause recorded; None for a PAUSED state not made by a pause."""
    paused = await pauses.pause_latest(conn, run_id)
    if paused is None or not paused["data"] or "pause_key" not in paused["data"]:
        return None
    return PauseDetails.model_validate(paused["data"])


def timed_out(details: PauseDetails | None) -> str | None:
    """Why the pause can no longer be resumed (its timeout passed); None while it can."""
    if details is None or details.pause_expiration_time >= datetime.now(UTC):
        return None
    return (
        f"the pause timed out at {details.pause_expiration_time.isoformat()} "
        f"(after {details.timeout_seconds:g} s)"
    )


def check_input(details: PauseDetails | None, run_input: dict[str, Any] | None, where: str) -> None:
    """A 422 naming the field when the input does not fit what the pause waits for."""
    schema = details.run_input_schema if details is not None else None
    if schema is None:
        if run_input:
            raise InvalidInput(f"{where}: the paused flow waits for no input")
        return
    check_parameters(schema, run_input or {}, where=where)


async def paused_run(conn: AsyncConnection, run_id: uuid.UUID, verb: str) -> dict[str, Any]:
    """The run, which must be PAUSED (404, or 409 "cannot `verb`: the run is ...")."""
    row = await run_store.flow_run_get(conn, run_id)
    if row is None:
        raise NotFoundError(f"flow run {run_id} not found")
    if row["state_type"] != StateType.PAUSED.value:
        raise ConflictError(f"cannot {verb}: the run is {row['state_name']}, not paused")
    return dict(row)


async def fail_timed_out_suspension(
    conn: AsyncConnection, run_id: uuid.UUID, lease_seconds: float
) -> str | None:
    """Why the run's pause can no longer be resumed, or None. A Suspended run has no process
    to fail it: the resume that finds it too late does, here (commit before refusing)."""
    await paused_run(conn, run_id, "resume")
    details = await pause_details(conn, run_id)
    reason = timed_out(details)
    if reason is not None and details is not None and details.reschedule:
        await queue.flow_run_set_state(
            conn,
            run_id,
            state_type=StateType.FAILED,
            state_name="Failed",
            message=f"suspended and not resumed in time: {reason}",
            lease_seconds=lease_seconds,
        )
    return reason


async def resume_paused(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    run_input: dict[str, Any] | None,
    lease_seconds: float,
    *,
    where: str = "body.run_input",
    message: str = "resumed",
) -> None:
    """Resume a Paused run (Running again) or a Suspended one (Scheduled for a worker) with the
    input it waits for, checked against its RunInput's JSON schema (InvalidInput naming the
    field under `where`); ConflictError when it is not paused or its pause timed out."""
    await paused_run(conn, run_id, "resume")
    details = await pause_details(conn, run_id)
    reason = timed_out(details)
    if reason is not None:
        raise ConflictError(f"cannot resume: {reason}")
    check_input(details, run_input, where)
    resumed: dict[str, Any] = {"run_input": run_input}
    if details is not None:
        resumed["resumed_pause_key"] = details.pause_key
    suspended = details is not None and details.reschedule
    change = await queue.flow_run_set_state(
        conn,
        run_id,
        state_type=StateType.SCHEDULED if suspended else StateType.RUNNING,
        state_name="Resuming" if suspended else "Running",
        message=message,
        data=resumed,
        lease_seconds=lease_seconds,
    )
    if not change.decision.accept:
        raise ConflictError(f"cannot resume: {change.decision.reason}")
    if details is not None and details.run_input_keyset is not None:
        # Where `RunInput.load(keyset)` finds the input the run was resumed with.
        await run_input_put(conn, run_id, details.run_input_keyset["response"], run_input or {})
