"""Deployments: create-or-update, read, list, pause/resume, delete, and runs of a deployment."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.deployments import (
    Deployment,
    DeploymentCreate,
    DeploymentQuery,
    DeploymentRunCreate,
    DeploymentUpdate,
)
from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.work_pools import DEFAULT_QUEUE
from headrace_service import queue
from headrace_service.api.code_bundles import check_code_source
from headrace_service.api.deps import db, settings, to_model
from headrace_service.api.flow_runs import read_run
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.api.schedules import check_schedule_body
from headrace_service.automations.deployment_triggers import replace_triggers
from headrace_service.deployment_runs import enqueue_deployment_run
from headrace_service.errors import InvalidInput, NotFoundError
from headrace_service.parameter_schema import check_defaults, check_schema
from headrace_service.run_keys import check_key
from headrace_service.store import deployments as store
from headrace_service.store import schedules as schedule_store
from headrace_service.store import work_pools as pools
from headrace_service.store.flows import flow_get_or_create
from headrace_service.store.resource_events import Action, related_labels, resource_changed
from headrace_service.validation import parse_uuid

router = Router("deployments")

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 200


@router.route(
    "POST", "/deployments", scope="admin", body=DeploymentCreate, response=Deployment, status=201
)
async def create_deployment(request: Request, body: DeploymentCreate) -> Deployment:
    """Create a deployment, or update the one of the same flow and name (idempotent)."""
    check_schema(body.parameter_schema)
    check_defaults(body.parameter_schema, body.parameters)
    check_key(body.concurrency_key, body.parameter_schema)
    defaults = {"parameter_schema": body.parameter_schema, "parameters": body.parameters}
    for i, schedule in enumerate(body.schedules or []):
        await check_schedule_body(defaults, schedule, f"body.schedules.{i}")
    async with db(request).begin() as conn:
        pool = await pools.work_pool_get(
            conn, body.work_pool_name, heartbeat_seconds=settings(request).heartbeat_seconds
        )
        if pool is None:
            raise InvalidInput(
                f"body.work_pool_name: no work pool named {body.work_pool_name!r}; create it "
                f"with `headrace work-pool create {body.work_pool_name}`"
            )
        queue_name = body.work_queue_name or DEFAULT_QUEUE
        work_queue = await pools.work_queue_get(conn, pool["id"], queue_name)
        if work_queue is None:
            raise InvalidInput(
                f"body.work_queue_name: pool {body.work_pool_name!r} has no queue "
                f"{queue_name!r}; create it with "
                f"`headrace work-queue create {queue_name} --pool {body.work_pool_name}`"
            )
        await check_code_source(conn, body.source)
        flow = await flow_get_or_create(conn, body.flow_name)
        deployment_id = await store.deployment_upsert(
            conn,
            body,
            flow_id=flow["id"],
            work_pool_id=pool["id"],
            work_queue_id=work_queue["id"],
        )
        if body.schedules is not None:
            await schedule_store.schedules_replace(conn, deployment_id, body.schedules)
        await schedule_store.deployment_sync_runs(conn, deployment_id)
        row = await store.deployment_require(conn, deployment_id)
        if body.triggers is not None:
            await replace_triggers(conn, row, body.triggers)
        # An upsert: a row made by this transaction has `updated` equal to `created`.
        await _deployment_changed(
            conn, "created" if row["created"] == row["updated"] else "updated", row
        )
        return to_model(Deployment, row)


@router.route("GET", "/deployments", query=DeploymentQuery, response=list[Deployment])
async def list_deployments(request: Request, query: DeploymentQuery) -> list[Deployment]:
    """List deployments by flow and name, optionally of one flow or pool."""
    async with db(request).begin() as conn:
        rows = await store.deployment_list(
            conn,
            flow_name=query.flow_name,
            work_pool_name=query.work_pool_name,
            limit=query.limit,
            offset=query.offset,
        )
    return [to_model(Deployment, row) for row in rows]


@router.route("GET", "/deployments/{deployment_id}", response=Deployment)
async def read_deployment(request: Request, deployment_id: str) -> Deployment:
    """Read a deployment by id."""
    did = parse_uuid(deployment_id, "deployment")
    async with db(request).begin() as conn:
        return to_model(Deployment, await store.deployment_require(conn, did))


@router.route("GET", "/deployments/name/{flow_name}/{name}", response=Deployment)
async def read_deployment_by_name(request: Request, flow_name: str, name: str) -> Deployment:
    """Read a deployment by `flow/name`."""
    async with db(request).begin() as conn:
        return to_model(Deployment, await _require_name(conn, flow_name, name))


@router.route(
    "PATCH",
    "/deployments/{deployment_id}",
    scope="admin",
    body=DeploymentUpdate,
    response=Deployment,
)
async def update_deployment(
    request: Request, deployment_id: str, body: DeploymentUpdate
) -> Deployment:
    """Pause or resume a deployment; change its limit, tags, description or defaults."""
    did = parse_uuid(deployment_id, "deployment")
    changes = changes_of(body)
    async with db(request).begin() as conn:
        current = await store.deployment_require(conn, did)
        if "parameters" in changes:
            check_defaults(current["parameter_schema"], changes["parameters"])
        check_key(changes.get("concurrency_key"), current["parameter_schema"])
        if changes:
            await store.deployment_update(conn, did, changes)
            await schedule_store.deployment_sync_runs(conn, did)
        row = await store.deployment_require(conn, did)
        if changes:
            await _deployment_changed(conn, "updated", row, changes)
        return to_model(Deployment, row)


@router.route("DELETE", "/deployments/{deployment_id}", scope="admin", status=204)
async def delete_deployment(request: Request, deployment_id: str) -> Response:
    """Delete a deployment; its runs waiting for a worker are cancelled, the others stay."""
    did = parse_uuid(deployment_id, "deployment")
    async with db(request).begin() as conn:
        current = await store.deployment_require(conn, did)
        await schedule_store.deployment_unschedule(conn, did)
        await queue.flow_run_cancel_waiting(
            conn,
            deployment_id=did,
            message=f"cancelled: deployment {current['flow_name']}/{current['name']} was deleted",
        )
        await store.deployment_delete(conn, did)
        await _deployment_changed(conn, "deleted", current)
    return Response(status_code=204)


async def _deployment_changed(
    conn: AsyncConnection, action: Action, row: RowMapping, changes: dict[str, Any] | None = None
) -> None:
    related = [related_labels("flow", row["flow_id"], row["flow_name"])]
    if row.get("work_pool_id") is not None and row.get("work_pool_name"):
        related.append(related_labels("work-pool", row["work_pool_id"], row["work_pool_name"]))
    await resource_changed(
        conn, "deployment", action, row["id"], row["name"], related=related, changes=changes
    )


@router.route(
    "POST",
    "/deployments/{deployment_id}/runs",
    scope="worker",
    body=DeploymentRunCreate,
    response=FlowRun,
    status=201,
)
async def create_deployment_run(
    request: Request, deployment_id: str, body: DeploymentRunCreate
) -> FlowRun:
    """Create a run of a deployment, waiting in its pool; honours `Idempotency-Key`."""
    did = parse_uuid(deployment_id, "deployment")
    async with db(request).begin() as conn:
        deployment = await store.deployment_require(conn, did)
        return await _create_run(request, conn, deployment, body)


@router.route(
    "POST",
    "/deployments/name/{flow_name}/{name}/runs",
    scope="worker",
    body=DeploymentRunCreate,
    response=FlowRun,
    status=201,
)
async def create_deployment_run_by_name(
    request: Request, flow_name: str, name: str, body: DeploymentRunCreate
) -> FlowRun:
    """Create a run of the deployment `flow/name`; honours `Idempotency-Key`."""
    async with db(request).begin() as conn:
        deployment = await _require_name(conn, flow_name, name)
        return await _create_run(request, conn, deployment, body)


async def _create_run(
    request: Request, conn: AsyncConnection, deployment: RowMapping, body: DeploymentRunCreate
) -> FlowRun:
    key = _idempotency_key(request, deployment["id"])
    return await read_run(conn, await enqueue_deployment_run(conn, deployment, body, key))


def _idempotency_key(request: Request, deployment_id: uuid.UUID) -> str | None:
    """The client's key, scoped to this deployment (the same key elsewhere is another run)."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"header {IDEMPOTENCY_HEADER}: give 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )
    return f"deployment:{deployment_id}:{value}"


async def _require_name(conn: AsyncConnection, flow_name: str, name: str) -> RowMapping:
    row = await store.deployment_get_by_name(conn, flow_name, name)
    if row is None:
        raise NotFoundError(
            f"deployment {flow_name}/{name} not found; see `headrace deployment ls`"
        )
    return row
