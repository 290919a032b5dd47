"""Schedules of a deployment: add, list, read, change (pause/resume), delete.

Pausing, changing or deleting a schedule removes its upcoming auto-scheduled runs that have not
started; the scheduler makes the new ones at its next pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.schedules import (
    MAX_SCHEDULES,
    DeploymentSchedule,
    DeploymentScheduleCreate,
    DeploymentScheduleUpdate,
)
from headrace_service.api.deps import db
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError, NotFoundError
from headrace_service.parameter_schema import check_parameters
from headrace_service.schedules import check_schedule
from headrace_service.store import schedules as store
from headrace_service.store.deployments import deployment_require
from headrace_service.validation import parse_uuid

router = Router("schedules")


async def check_schedule_body(
    deployment: Mapping[str, Any] | RowMapping,
    body: DeploymentScheduleCreate | DeploymentScheduleUpdate,
    where: str,
) -> None:
    """A 422 for a schedule that cannot fire, or whose runs would lack a required parameter
    (nobody is there to give it when a scheduled run starts)."""
    if body.schedule is not None:
        await check_schedule(body.schedule, f"{where}.schedule", datetime.now(UTC))
    if body.parameters is not None:
        check_parameters(
            deployment["parameter_schema"],
            {**deployment["parameters"], **body.parameters},
            where=f"{where}.parameters",
        )


@router.route(
    "POST",
    "/deployments/{deployment_id}/schedules",
    scope="admin",
    body=DeploymentScheduleCreate,
    response=DeploymentSchedule,
    status=201,
)
async def create_schedule(
    request: Request, deployment_id: str, body: DeploymentScheduleCreate
) -> DeploymentSchedule:
    """Add a schedule (cron, interval or rrule) to a deployment."""
    did = parse_uuid(deployment_id, "deployment")
    async with db(request).begin() as conn:
        deployment = await deployment_require(conn, did)
        await check_schedule_body(deployment, body, "body")
        if len(await store.schedule_list(conn, did)) >= MAX_SCHEDULES:
            raise ConflictError(
                f"deployment {did} already has {MAX_SCHEDULES} schedules, the most allowed; "
                "delete one first"
            )
        row = await store.schedule_insert(conn, did, body)
    return _model(row, deployment)


@router.route("GET", "/deployments/{deployment_id}/schedules", response=list[DeploymentSchedule])
async def list_schedules(request: Request, deployment_id: str) -> list[DeploymentSchedule]:
    """The schedules of a deployment, oldest first."""
    did = parse_uuid(deployment_id, "deployment")
    async with db(request).begin() as conn:
        deployment = await deployment_require(conn, did)
        rows = await store.schedule_list(conn, did)
    return [_model(row, deployment) for row in rows]


@router.route("GET", "/deployment_schedules/{schedule_id}", response=DeploymentSchedule)
async def read_schedule(request: Request, schedule_id: str) -> DeploymentSchedule:
    """Read a schedule."""
    sid = parse_uuid(schedule_id, "schedule")
    async with db(request).begin() as conn:
        row = await _schedule(conn, sid)
        return _model(row, await deployment_require(conn, row["deployment_id"]))


@router.route(
    "PATCH",
    "/deployment_schedules/{schedule_id}",
    scope="admin",
    body=DeploymentScheduleUpdate,
    response=DeploymentSchedule,
)
async def update_schedule(
    request: Request, schedule_id: str, body: DeploymentScheduleUpdate
) -> DeploymentSchedule:
    """Change a schedule: `active` false pauses it, true resumes; new times or parameters."""
    sid = parse_uuid(schedule_id, "schedule")
    changes: dict[str, Any] = changes_of(body)
    if "schedule" in changes:
        changes["schedule"] = body.schedule  # the model, not its dump
    async with db(request).begin() as conn:
        current = await _schedule(conn, sid)
        deployment = await deployment_require(conn, current["deployment_id"])
        await check_schedule_body(deployment, body, "body")
        await store.schedule_update(conn, current, changes)
        return _model(await _schedule(conn, sid), deployment)


@router.route("DELETE", "/deployment_schedules/{schedule_id}", scope="admin", status=204)
async def delete_schedule(request: Request, schedule_id: str) -> Response:
    """Delete a schedule and its upcoming runs that have not started."""
    sid = parse_uuid(schedule_id, "schedule")
    async with db(request).begin() as conn:
        await _schedule(conn, sid)
        await store.schedule_delete(conn, sid)
    return Response(status_code=204)


def _model(row: RowMapping, deployment: Mapping[str, Any] | RowMapping) -> DeploymentSchedule:
    """The schedule, its parameters masked by the deployment's schema (SecretStr ones)."""
    return DeploymentSchedule.model_validate(
        {**row, "parameter_schema": deployment["parameter_schema"]}
    )


async def _schedule(conn: AsyncConnection, schedule_id: uuid.UUID) -> RowMapping:
    row = await store.schedule_get(conn, schedule_id)
    if row is None:
        raise NotFoundError(f"schedule {schedule_id} not found")
    return row
