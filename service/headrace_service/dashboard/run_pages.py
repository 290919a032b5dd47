"""The flow-runs list (with live rows) and the page of one flow run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.secrets import mask_secret_parameters
from headrace_service.app_state import request_database
from headrace_service.dashboard.artifact_views import RunArtifacts, run_artifact_section
from headrace_service.dashboard.run_queries import (
    SORT_KEYS,
    TIME_RANGES,
    BadFilter,
    Cursor,
    RunFilter,
    deployment_choices,
    flow_names,
    run_page,
)
from headrace_service.dashboard.templating import bad_request, not_found, render
from headrace_service.dashboard.timeline import layout
from headrace_service.models import STATE_TYPES
from headrace_service.store.events import events_of_flow_run
from headrace_service.store.flow_runs import flow_run_get, flow_run_states
from headrace_service.store.task_runs import task_runs_of_flow_run

MAX_TASK_ROWS = 1000
RUN_EVENTS_SHOWN = 50  # the newest; `headrace event ls --related` reads them all


async def runs_page(request: Request) -> Response:
    query = request.query_params
    try:
        flt = RunFilter.from_query(query)
        before = Cursor.decode(query["before"], "before", flt.sort) if query.get("before") else None
        after = Cursor.decode(query["after"], "after", flt.sort) if query.get("after") else None
    except BadFilter as error:
        return bad_request(str(error))
    async with request_database(request).begin() as conn:
        page = await run_page(conn, flt, before=before, after=after)
        flows = await flow_names(conn)
        deployments = await deployment_choices(conn)
    base = flt.query_args()
    return render(
        "runs.html",
        title="Flow runs",
        nav="runs",
        page=page,
        runs=page.runs,
        flt=flt,
        flows=flows,
        deployments=deployments,
        state_types=STATE_TYPES,
        time_ranges=list(TIME_RANGES),
        filter_query=urlencode(base),
        sort_links=sort_links(flt),
        sort_choices=sort_choices(),
        # Only the first page takes new runs live; a later page keeps its rows in place.
        first_page=before is None and page.previous is None,
        next_url="?" + urlencode([*base, ("before", page.next.encode())]) if page.next else None,
        previous_url=(
            "?" + urlencode([*base, ("after", page.previous.encode())]) if page.previous else None
        ),
    )


def sort_choices() -> list[tuple[str, str]]:
    """The Sort menu (for phones, where the column heads are hidden): (value, text)."""
    choices = []
    for name, key in SORT_KEYS.items():
        if key.text:
            choices += [(name, f"{key.label}, A to Z"), ("-" + name, f"{key.label}, Z to A")]
        else:
            choices += [
                ("-" + name, f"{key.label}, newest first"),
                (name, f"{key.label}, oldest first"),
            ]
    return choices


def sort_links(flt: RunFilter) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (again: the other way round) and
    its `aria-sort`. Times start newest first, names A to Z."""
    links: dict[str, dict[str, str]] = {}
    filters = [(k, v) for k, v in flt.query_args() if k != "sort"]
    current = flt.sort.removeprefix("-")
    for name, key in SORT_KEYS.items():
        first = name if key.text else "-" + name
        if name == current:
            target = name if flt.descending else "-" + name
            aria = "descending" if flt.descending else "ascending"
        else:
            target, aria = first, "none"
        href = "/runs?" + urlencode([*filters, ("sort", target)])
        links[name] = {"href": href, "aria": aria, "label": key.label}
    return links


async def run_rows_fragment(request: Request) -> Response:
    """Table rows for the live list: the first page of the filter, or just the runs asked for."""
    try:
        flt = RunFilter.from_query(request.query_params)
    except BadFilter as error:
        return bad_request(str(error))
    async with request_database(request).begin() as conn:
        page = await run_page(conn, flt)
    return render("_run_rows.html", runs=page.runs)


def _run_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["run_id"])
    except ValueError:
        return None


async def run_detail_page(request: Request) -> Response:
    run_id = _run_id(request)
    if run_id is None:
        return bad_request(f"{request.path_params['run_id']!r} is not a flow run id")
    async with request_database(request).begin() as conn:
        run = await flow_run_get(conn, run_id)
        if run is None:
            return not_found(f"flow run {run_id} not found")
        states = await flow_run_states(conn, run_id)
        tasks = await task_runs_of_flow_run(conn, run_id)
        page = await run_page(conn, RunFilter(parent_flow_run_id=run_id), limit=100)
        parent = await _parent_run(conn, run)
        # `?part=live` is what the page's script fetches to swap in what changed.
        live_part = request.query_params.get("part") == "live"
        artifacts = RunArtifacts([], 0) if live_part else await run_artifact_section(conn, run_id)
        events = await events_of_flow_run(conn, run_id, RUN_EVENTS_SHOWN)
    now = datetime.now(UTC)
    template = "_run_live.html" if live_part else "run.html"
    return render(
        template,
        title=run["name"],
        nav="runs",
        run=run,
        parameters=mask_secret_parameters(run["parameters"], run["parameter_schema"]),
        states=states,
        tasks=tasks[:MAX_TASK_ROWS],
        task_count=len(tasks),
        timeline=layout(tasks, now),
        children=page.runs,
        parent=parent,
        task_names={str(t["id"]): t["name"] for t in tasks},
        artifacts=artifacts,
        run_id=run_id,
        events=events,
    )


async def _parent_run(conn: AsyncConnection, run: RowMapping) -> RowMapping | None:
    """The flow run whose task started this subflow run, if any."""
    if run["parent_task_run_id"] is None:
        return None
    return (
        (
            await conn.execute(
                text(
                    "SELECT fr.id, fr.name FROM task_run tr "
                    "JOIN flow_run fr ON fr.id = tr.flow_run_id WHERE tr.id = :id"
                ),
                {"id": run["parent_task_run_id"]},
            )
        )
        .mappings()
        .first()
    )
