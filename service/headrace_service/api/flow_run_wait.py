"""`GET /api/flow_runs/{id}/wait`: a long poll until the run finishes, for CI systems.

It holds no database connection while waiting: it re-reads the run when a NOTIFY names it
(or the notifier asks everyone to re-read), and at least every `RECHECK_SECONDS` in case a
notification was lost or LISTEN is off.
"""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request

from headrace._state_types import StateType, is_terminal
from headrace.schemas.flow_runs import FlowRun, FlowRunWaitQuery
from headrace_service.api.deps import db, notifier
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.notifier import Subscription
from headrace_service.queue.state_columns import SUSPENDED
from headrace_service.validation import parse_uuid

router = Router("flow_runs")

RECHECK_SECONDS = 2.0


@router.route("GET", "/flow_runs/{run_id}/wait", query=FlowRunWaitQuery, response=FlowRun)
async def wait_for_flow_run(request: Request, run_id: str, query: FlowRunWaitQuery) -> FlowRun:
    """Wait until the run is terminal (or, with `paused`, no longer waiting Paused: resumed,
    suspended or ended) or `timeout` seconds pass; returns the run."""
    rid = parse_uuid(run_id, "flow run")
    deadline = time.monotonic() + query.timeout
    # Subscribed before the first read: a change between the read and the wait is not lost.
    async with notifier(request).subscribe() as subscription:
        while True:
            async with db(request).begin() as conn:
                run = await read_run(conn, rid)
            # A Suspended run is PAUSED too, but no process waits in it any more.
            waiting = run.state_type is StateType.PAUSED and run.state_name != SUSPENDED
            unpaused = query.paused and not waiting
            if is_terminal(run.state_type) or unpaused or time.monotonic() >= deadline:
                return run
            await _until_worth_reading(
                subscription, rid, min(deadline, time.monotonic() + RECHECK_SECONDS)
            )


async def _until_worth_reading(subscription: Subscription, run_id: uuid.UUID, until: float) -> None:
    """Return on an event about this run, a re-read request (None), or at `until`."""
    wanted = str(run_id)
    while (left := until - time.monotonic()) > 0:
        arrived, event = await subscription.next(left)
        if not arrived or event is None or event.get("id") == wanted:
            return
