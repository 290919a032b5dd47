"""Retrying a finished deployment run by hand: back to Scheduled, for a worker to take."""

from __future__ import annotations

from starlette.requests import Request

from headrace._state_types import StateType
from headrace.schemas.flow_runs import FlowRun, FlowRunRetry
from headrace_service import queue
from headrace_service.api.deps import db, settings
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError
from headrace_service.validation import parse_uuid

router = Router("flow_runs")

# What may be retried by hand: runs that ended without completing.
RETRYABLE = (StateType.FAILED, StateType.CRASHED)


@router.route(
    "POST", "/flow_runs/{run_id}/retry", scope="worker", body=FlowRunRetry, response=FlowRun
)
async def retry_flow_run(request: Request, run_id: str, body: FlowRunRetry) -> FlowRun:
    """Send a Failed or Crashed deployment run back to Scheduled, for a worker to run again.

    A worker of its pool claims it as its next attempt. `from_failure: true`: the task runs that
    completed in an earlier attempt and whose results are stored are not run again."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        run = await read_run(conn, rid)
        if run.deployment_id is None:
            raise ConflictError(
                "cannot retry: the run was not made by a deployment (no worker can run a local "
                "script's flow again); start the script again"
            )
        if run.state_type not in RETRYABLE:
            raise ConflictError(
                f"cannot retry: the run is {run.state_name}; only a Failed or Crashed run can "
                "be retried"
            )
        how = "from failure" if body.from_failure else "from the start"
        change = await queue.flow_run_set_state(
            conn,
            rid,
            state_type=StateType.SCHEDULED,
            state_name="AwaitingRetry",
            message=f"retry by hand, {how}",
            # The engine reads it back from the history when a worker starts the run.
            data={"from_failure": body.from_failure},
            lease_seconds=settings(request).lease_seconds,
        )
        if not change.decision.accept:
            raise ConflictError(f"cannot retry: {change.decision.reason}")
        return await read_run(conn, rid)
