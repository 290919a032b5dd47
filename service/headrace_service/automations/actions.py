"""What each action of an automation does, given the context of its firing.

Actions on the database (run, pause or resume a deployment, cancel a run) run in the caller's
transaction, the one that marks the action done: they happen exactly once. Calls to a webhook
happen outside any transaction, with a timeout and retries with backoff.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import (
    CallWebhook,
    CancelFlowRun,
    ChangeFlowRunState,
    PauseDeployment,
    ResumeDeployment,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
    SuspendFlowRun,
)
from headrace.schemas.deployments import DeploymentRunCreate
from headrace.schemas.events import RESOURCE_ID, RESOURCE_ROLE
from headrace_service import queue
from headrace_service.automations.targets import find_deployment
from headrace_service.automations.templates import TemplateFailed, render, render_values
from headrace_service.deployment_runs import enqueue_deployment_run
from headrace_service.errors import ServiceError
from headrace_service.store import deployments as deployment_store
from headrace_service.store import schedules as schedule_store
from headrace_service.store.resource_events import related_labels, resource_changed

# Longest pause between two tries of a webhook, whatever the backoff asks.
MAX_BACKOFF_SECONDS = 60.0
MAX_RESPONSE_SNIPPET = 300


class ActionFailed(Exception):
    """The action could not be done; the message says why (recorded on the firing)."""


@dataclass(frozen=True)
class Firing:
    id: uuid.UUID
    index: int
    automation_id: uuid.UUID
    automation_name: str
    event: dict[str, Any] | None

    def context(self) -> dict[str, Any]:
        """What templates see: `event`, `automation`, `firing`."""
        return {
            "event": self.event or {},
            "automation": {"id": str(self.automation_id), "name": self.automation_name},
            "firing": {"id": str(self.id)},
        }

    def idempotency_key(self) -> str:
        return f"automation:{self.id}:{self.index}"


def _about(event: dict[str, Any] | None, kind: str) -> uuid.UUID | None:
    """The id of the `kind` resource (flow-run, deployment) the event is about, or related to."""
    if not event:
        return None
    prefix = f"headrace.{kind}."
    candidates = [event.get("resource", {})] + [
        r for r in event.get("related", []) if r.get(RESOURCE_ROLE) == kind
    ]
    for labels in candidates:
        resource_id = str(labels.get(RESOURCE_ID, ""))
        if resource_id.startswith(prefix):
            try:
                return uuid.UUID(resource_id[len(prefix) :])
            except ValueError:
                continue
    return None


async def _deployment_of(conn: AsyncConnection, ref: str | None, firing: Firing) -> RowMapping:
    if ref is not None:
        row = await find_deployment(conn, ref)
        if row is None:
            raise ActionFailed(f"deployment {ref!r} not found")
        return row
    inferred = _about(firing.event, "deployment")
    if inferred is None:
        raise ActionFailed("the triggering event names no deployment; set `deployment`")
    row = await deployment_store.deployment_get(conn, inferred)
    if row is None:
        raise ActionFailed(f"deployment {inferred} not found")
    return row


async def run_deployment(conn: AsyncConnection, action: RunDeployment, firing: Firing) -> str:
    deployment = await _deployment_of(conn, action.deployment, firing)
    try:
        parameters = render_values(action.parameters, firing.context())
    except TemplateFailed as error:
        raise ActionFailed(f"parameters: {error}") from None
    body = DeploymentRunCreate(parameters=parameters)
    try:
        run_id = await enqueue_deployment_run(conn, deployment, body, firing.idempotency_key())
    except ServiceError as error:
        raise ActionFailed(error.detail) from None
    return f"created flow run {run_id} of {deployment['flow_name']}/{deployment['name']}"


async def set_paused(
    conn: AsyncConnection, action: PauseDeployment | ResumeDeployment, firing: Firing
) -> str:
    deployment = await _deployment_of(conn, action.deployment, firing)
    paused = isinstance(action, PauseDeployment)
    did = deployment["id"]
    await deployment_store.deployment_update(conn, did, {"paused": paused})
    await schedule_store.deployment_sync_runs(conn, did)
    related = [related_labels("automation", firing.automation_id, firing.automation_name)]
    await resource_changed(
        conn,
        "deployment",
        "updated",
        did,
        deployment["name"],
        related=related,
        changes={"paused": paused},
    )
    verb = "paused" if paused else "resumed"
    return f"{verb} deployment {deployment['flow_name']}/{deployment['name']}"


def run_of(
    action: CancelFlowRun | ChangeFlowRunState | SuspendFlowRun | ResumeFlowRun, firing: Firing
) -> uuid.UUID:
    """The run an action names, or else the one the triggering event is about."""
    run_id = action.flow_run_id or _about(firing.event, "flow-run")
    if run_id is None:
        raise ActionFailed("the triggering event is not about a flow run; set `flow_run_id`")
    return run_id


async def change_flow_run_state(
    conn: AsyncConnection, action: ChangeFlowRunState, firing: Firing, lease_seconds: float
) -> str:
    run_id = run_of(action, firing)
    state = action.state
    message = state.message or f"set by automation {firing.automation_name!r}"
    try:
        change = await queue.flow_run_set_state(
            conn,
            run_id,
            state_type=state.type,
            state_name=state.resolved_name(),
            message=message,
            data=state.data,
            lease_seconds=lease_seconds,
        )
    except ServiceError as error:
        raise ActionFailed(error.detail) from None
    if not change.decision.accept:
        raise ActionFailed(f"flow run {run_id}: {change.decision.reason}")
    return f"flow run {run_id} is now {state.resolved_name()}"


async def cancel_flow_run(
    conn: AsyncConnection, action: CancelFlowRun, firing: Firing, lease_seconds: float
) -> str:
    run_id = run_of(action, firing)
    try:
        change = await queue.flow_run_cancel(
            conn,
            run_id,
            message=f"cancelled by automation {firing.automation_name!r}",
            lease_seconds=lease_seconds,
        )
    except ServiceError as error:
        raise ActionFailed(error.detail) from None
    if not change.decision.accept:
        raise ActionFailed(f"cannot cancel flow run {run_id}: {change.decision.reason}")
    return f"cancelling flow run {run_id}"


def webhook_request(
    action: CallWebhook | SendNotification, firing: Firing
) -> tuple[bytes, dict[str, str]]:
    """The body and headers to send, rendered; ActionFailed on a template error."""
    context = firing.context()
    try:
        if isinstance(action, SendNotification):
            body = json.dumps({"text": render(action.message, context)}).encode()
            headers = {"Content-Type": "application/json"}
        else:
            body = render(action.body, context).encode()
            headers = {"Content-Type": "application/json"}
            headers.update({k: render(v, context) for k, v in action.headers.items()})
    except TemplateFailed as error:
        raise ActionFailed(str(error)) from None
    # The receiver can tell a repeated delivery of the same action from a new one.
    headers["Idempotency-Key"] = firing.idempotency_key()
    return body, headers


async def call_webhook(
    http: httpx.AsyncClient, action: CallWebhook | SendNotification, firing: Firing
) -> tuple[str, int]:
    """POST, retried on a connection error or a 5xx/429 answer; (outcome, attempts made)."""
    body, headers = webhook_request(action, firing)
    problem = ""
    for attempt in range(1, action.retries + 2):
        if attempt > 1:
            delay = action.retry_backoff_seconds * 2 ** (attempt - 2)
            await asyncio.sleep(min(delay, MAX_BACKOFF_SECONDS))
        try:
            status, text = await _post(http, action.url, body, headers, action.timeout_seconds)
        except (httpx.HTTPError, TimeoutError) as error:
            # TimeoutError: the whole exchange outlasted the timeout (a receiver that drips).
            problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            continue
        if status < 400:
            return f"{action.url} answered {status}", attempt
        problem = f"{action.url} answered {status}: {text}"
        if status < 500 and status != 429:
            raise ActionFailed(f"{problem} (after {attempt} attempts; not retried)")
    raise ActionFailed(f"{problem} (after {action.retries + 1} attempts)")


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, str]:
    """The status and the start of the answer; the rest of a long answer is never read."""
    async with asyncio.timeout(timeout):
        async with http.stream("POST", url, content=body, headers=headers, timeout=timeout) as r:
            start = b""
            async for chunk in r.aiter_bytes():
                start += chunk
                if len(start) >= MAX_RESPONSE_SNIPPET:
                    break
    return r.status_code, start[:MAX_RESPONSE_SNIPPET].decode(errors="replace").strip()
