"""Deployments: the list with schedules and next runs, and one deployment with its Run form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from headrace_service.app_state import request_database
from headrace_service.dashboard.deployment_queries import (
    fire_times,
    next_runs_of,
    next_runs_of_schedules,
    schedule_text,
    schedules_of,
)
from headrace_service.dashboard.run_form import form_fields
from headrace_service.dashboard.run_queries import RunFilter, run_page
from headrace_service.dashboard.templating import bad_request, not_found, render
from headrace_service.store.deployments import deployment_get, deployment_list

MAX_DEPLOYMENTS = 500
NEXT_RUNS_PER_SCHEDULE = 3


async def deployments_page(request: Request) -> Response:
    now = datetime.now(UTC)
    async with request_database(request).begin() as conn:
        deployments = await deployment_list(
            conn, flow_name=None, work_pool_name=None, limit=MAX_DEPLOYMENTS, offset=0
        )
        ids = [d["id"] for d in deployments]
        schedules = await schedules_of(conn, ids)
        next_runs = await next_runs_of(conn, ids, now, per_deployment=1)
    return render(
        "deployments.html",
        title="Deployments",
        nav="deployments",
        deployments=deployments,
        schedules=schedules,
        next_runs=next_runs,
        schedule_text=schedule_text,
    )


async def deployment_page(request: Request) -> Response:
    try:
        deployment_id = uuid.UUID(request.path_params["deployment_id"])
    except ValueError:
        return bad_request(f"{request.path_params['deployment_id']!r} is not a deployment id")
    now = datetime.now(UTC)
    async with request_database(request).begin() as conn:
        deployment = await deployment_get(conn, deployment_id)
        if deployment is None:
            return not_found(f"deployment {deployment_id} not found")
        schedules = (await schedules_of(conn, [deployment_id]))[deployment_id]
        upcoming = (await next_runs_of(conn, [deployment_id], now, per_deployment=5))[deployment_id]
        schedule_runs = await next_runs_of_schedules(
            conn, [s["id"] for s in schedules], now, per_schedule=NEXT_RUNS_PER_SCHEDULE
        )
        runs = await run_page(conn, RunFilter(deployment_id=deployment_id), limit=20)
    # Active schedules with no waiting run yet (just added, resumed, or firing beyond the
    # scheduler's horizon): say when they fire instead.
    waiting_for_runs = [s for s in schedules if s["active"] and not schedule_runs.get(s["id"])]
    # Off the event loop: schedule math may take its whole time budget.
    times = await anyio.to_thread.run_sync(
        fire_times, waiting_for_runs, now, NEXT_RUNS_PER_SCHEDULE
    )
    return render(
        "deployment.html",
        title=f"{deployment['flow_name']}/{deployment['name']}",
        nav="deployments",
        d=deployment,
        schedules=schedules,
        upcoming=upcoming,
        runs=runs.runs,
        more_runs=runs.next is not None,
        fields=form_fields(deployment["parameter_schema"], deployment["parameters"]),
        schedule_text=schedule_text,
        schedule_runs=schedule_runs,
        fire_times=times,
    )
