"""The executor: takes pending actions of firings and does them, recording each outcome as an
`automation_action` row and an event (`headrace.automation.action.executed` / `.failed`).

Database actions run inside the transaction that marks them done (a savepoint around each, so a
failed one leaves nothing behind): exactly once, whichever replica takes them. A webhook is
marked `running` before it is called and its outcome recorded after. A server that stops during
a call leaves it `running`: once the call's longest possible duration has passed, it is made
again with the same `Idempotency-Key`, so a receiver that honours the key acts once; after
`MAX_INTERRUPTED_CALLS` such stops it is failed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import (
    Action,
    CallWebhook,
    CancelFlowRun,
    ChangeFlowRunState,
    PauseAutomation,
    PauseDeployment,
    PauseWorkPool,
    PauseWorkQueue,
    ResumeAutomation,
    ResumeDeployment,
    ResumeFlowRun,
    ResumeWorkPool,
    ResumeWorkQueue,
    RunDeployment,
    SendNotification,
    SuspendFlowRun,
)
from headrace.schemas.events import RESOURCE_ID, RESOURCE_ROLE
from headrace_service.automations import actions, pausing, run_actions
from headrace_service.automations.actions import ActionFailed, Firing
from headrace_service.automations.evaluator import automation_labels
from headrace_service.db import Database
from headrace_service.errors import ServiceError
from headrace_service.store import automations as store
from headrace_service.store.events import event_record

log = logging.getLogger("headrace.automations")

TAKE = 20
# A call still `running` this long after its longest possible duration was interrupted (its
# server stopped); the margin covers a busy event loop that started the call late.
INTERRUPTED_MARGIN_SECONDS = 5.0
MAX_INTERRUPTED_CALLS = 3
EXECUTED = "headrace.automation.action.executed"
FAILED = "headrace.automation.action.failed"
_ACTION = TypeAdapter[Action](Action)


class Executor:
    """Runs pending actions; webhooks as tasks of their own, so a slow receiver holds up
    nothing else."""

    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.http = httpx.AsyncClient(follow_redirects=False)
        self.calls: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self.calls):
            task.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)
        await self.http.aclose()

    async def run_once(self) -> int:
        """Do every pending action (webhooks: start them); how many were taken."""
        taken = 0
        while True:
            calls: list[tuple[CallWebhook | SendNotification, Firing]] = []
            async with self.db.begin() as conn:
                rows = await store.action_take(conn, TAKE)
                for row in rows:
                    call = await self._do(conn, row)
                    if call is not None:
                        calls.append(call)
            for action, firing in calls:
                task = asyncio.create_task(self._call(action, firing))
                self.calls.add(task)
                task.add_done_callback(self.calls.discard)
            taken += len(rows)
            if len(rows) < TAKE:
                return taken

    async def _do(
        self, conn: AsyncConnection, row: Any
    ) -> tuple[CallWebhook | SendNotification, Firing] | None:
        firing = Firing(
            row["firing_id"],
            row["index"],
            row["automation_id"],
            row["automation_name"],
            row["event"],
        )
        try:
            action = _ACTION.validate_python(row["action"])
        except ValidationError as error:
            await record(conn, firing, row["type"], "failed", f"invalid action: {error}")
            return None
        if isinstance(action, CallWebhook | SendNotification):
            await store.action_set(
                conn, firing.id, firing.index, "running", attempts=row["attempts"] + 1
            )
            return action, firing
        try:
            async with conn.begin_nested():
                outcome = await self._database_action(conn, action, firing)
        except ActionFailed as error:
            await record(conn, firing, action.type, "failed", str(error))
        except (ServiceError, SQLAlchemyError) as error:
            reason = error.detail if isinstance(error, ServiceError) else str(error).splitlines()[0]
            await record(conn, firing, action.type, "failed", reason)
        else:
            await record(conn, firing, action.type, "executed", outcome)
        return None

    async def _database_action(self, conn: AsyncConnection, action: Action, firing: Firing) -> str:
        if isinstance(action, RunDeployment):
            return await actions.run_deployment(conn, action, firing)
        if isinstance(action, PauseDeployment | ResumeDeployment):
            return await actions.set_paused(conn, action, firing)
        if isinstance(action, PauseWorkPool | ResumeWorkPool):
            return await pausing.set_pool_paused(conn, action, firing)
        if isinstance(action, PauseWorkQueue | ResumeWorkQueue):
            return await pausing.set_queue_paused(conn, action, firing)
        if isinstance(action, PauseAutomation | ResumeAutomation):
            return await pausing.set_automation_enabled(conn, action, firing)
        if isinstance(action, ChangeFlowRunState):
            return await actions.change_flow_run_state(conn, action, firing, self.lease_seconds)
        if isinstance(action, CancelFlowRun):
            return await actions.cancel_flow_run(conn, action, firing, self.lease_seconds)
        if isinstance(action, SuspendFlowRun):
            return await run_actions.suspend_flow_run(conn, action, firing, self.lease_seconds)
        if isinstance(action, ResumeFlowRun):
            return await run_actions.resume_flow_run(conn, action, firing, self.lease_seconds)
        raise ActionFailed(f"unknown action type {action.type!r}")

    async def _call(self, action: CallWebhook | SendNotification, firing: Firing) -> None:
        try:
            outcome, attempts = await actions.call_webhook(self.http, action, firing)
            status, reason = "executed", outcome
        except ActionFailed as error:
            status, reason, attempts = "failed", str(error), action.retries + 1
        try:
            async with self.db.begin() as conn:
                await record(conn, firing, action.type, status, reason, attempts=attempts)
        except Exception:  # the database went away: the row stays `running`, failed later
            log.exception("could not record the outcome of a webhook of %s", firing.automation_name)

    async def retry_interrupted(self) -> None:
        """Calls whose server stopped during them: made again (same idempotency key), or
        failed once they were taken `MAX_INTERRUPTED_CALLS` times."""
        async with self.db.begin() as conn:
            for row in await store.actions_running(conn):
                try:
                    action = _ACTION.validate_python(row["action"])
                except ValidationError:
                    continue  # _do fails an invalid action before it is ever running
                if not isinstance(action, CallWebhook | SendNotification):
                    continue  # only calls are ever left running
                if row["running_seconds"] < longest_call_seconds(action):
                    continue  # may still be in flight
                firing = Firing(row["firing_id"], row["index"], row["automation_id"], "", None)
                if row["attempts"] < MAX_INTERRUPTED_CALLS:
                    await store.action_set(conn, firing.id, firing.index, "pending")
                    log.warning(
                        "a webhook call of firing %s was interrupted (its server stopped); "
                        "calling it again with the same Idempotency-Key",
                        firing.id,
                    )
                    continue
                reason = (
                    f"interrupted {row['attempts']} times (its server stopped during each "
                    "call); not sent again"
                )
                await record(conn, firing, row["type"], "failed", reason)


def longest_call_seconds(action: CallWebhook | SendNotification) -> float:
    """The most a call can take: every attempt's timeout and every backoff between them."""
    backoffs = sum(
        min(action.retry_backoff_seconds * 2.0**n, actions.MAX_BACKOFF_SECONDS)
        for n in range(action.retries)
    )
    return float((action.retries + 1) * action.timeout_seconds + backoffs) + (
        INTERRUPTED_MARGIN_SECONDS
    )


async def record(
    conn: AsyncConnection,
    firing: Firing,
    action_type: str,
    status: str,
    reason: str,
    *,
    attempts: int | None = None,
) -> None:
    """The outcome of an action: its row and its event."""
    await store.action_set(conn, firing.id, firing.index, status, reason, attempts=attempts)
    await _event(conn, firing, action_type, status, reason)
    if status == "failed":
        log.warning(
            "automation %r: action %d (%s) failed: %s",
            firing.automation_name,
            firing.index,
            action_type,
            reason,
        )


async def _event(
    conn: AsyncConnection, firing: Firing, action_type: str, status: str, reason: str
) -> None:
    await event_record(
        conn,
        EXECUTED if status == "executed" else FAILED,
        automation_labels(firing.automation_id, firing.automation_name),
        related=[{RESOURCE_ID: f"headrace.automation-firing.{firing.id}", RESOURCE_ROLE: "firing"}],
        payload={
            "firing_id": str(firing.id),
            "action_index": firing.index,
            "action_type": action_type,
            ("outcome" if status == "executed" else "reason"): reason,
        },
    )
