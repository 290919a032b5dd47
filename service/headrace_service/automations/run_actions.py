"""Actions that suspend or resume a paused flow run, through the same path as the API's resume
(run_resume.py): the input a pause waits for is checked the same way, and a run that waits for
input is not resumed without it (the action fails, saying which field is missing)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace.schemas.automations import ResumeFlowRun, SuspendFlowRun
from headrace_service import queue, run_resume
from headrace_service.automations.actions import ActionFailed, Firing, run_of
from headrace_service.automations.templates import TemplateFailed, render_values
from headrace_service.errors import InvalidInput, ServiceError
from headrace_service.queue.state_columns import SUSPENDED


async def suspend_flow_run(
    conn: AsyncConnection, action: SuspendFlowRun, firing: Firing, lease_seconds: float
) -> str:
    """A Paused run becomes Suspended, keeping its pause (key, input schema, timeout): its
    process sees it and exits (or its worker stops it), and the resume schedules it again."""
    run_id = run_of(action, firing)
    try:
        run = await run_resume.paused_run(conn, run_id, "suspend")
    except ServiceError as error:
        raise ActionFailed(f"flow run {run_id}: {error.detail}") from None
    if run["state_name"] == SUSPENDED:
        raise ActionFailed(f"flow run {run_id} is already Suspended")
    if run["deployment_id"] is None:
        raise ActionFailed(
            f"flow run {run_id} is not a run of a deployment: no worker would start it again "
            "once resumed (resume it instead)"
        )
    details = await run_resume.pause_details(conn, run_id)
    if details is None:
        raise ActionFailed(f"flow run {run_id} was not paused by pause_flow_run()")
    too_late = run_resume.timed_out(details)
    if too_late is not None:
        raise ActionFailed(f"cannot suspend flow run {run_id}: {too_late}")
    change = await queue.flow_run_set_state(
        conn,
        run_id,
        state_type=StateType.PAUSED,
        state_name=SUSPENDED,
        message=f"suspended by automation {firing.automation_name!r}",
        data=details.model_copy(update={"reschedule": True}).model_dump(mode="json"),
        lease_seconds=lease_seconds,
    )
    if not change.decision.accept:
        raise ActionFailed(f"cannot suspend flow run {run_id}: {change.decision.reason}")
    return f"suspended flow run {run_id}"


async def resume_flow_run(
    conn: AsyncConnection, action: ResumeFlowRun, firing: Firing, lease_seconds: float
) -> str:
    run_id = run_of(action, firing)
    try:
        run_input = (
            None if action.run_input is None else render_values(action.run_input, firing.context())
        )
    except TemplateFailed as error:
        raise ActionFailed(f"run_input: {error}") from None
    try:
        await run_resume.resume_paused(
            conn,
            run_id,
            run_input,
            lease_seconds,
            where="run_input",
            message=f"resumed by automation {firing.automation_name!r}",
        )
    except InvalidInput as error:
        raise ActionFailed(
            f"cannot resume flow run {run_id}: the input does not fit what it waits for: "
            f"{error.detail}"
        ) from None
    except ServiceError as error:
        raise ActionFailed(f"flow run {run_id}: {error.detail}") from None
    return f"resumed flow run {run_id}"
