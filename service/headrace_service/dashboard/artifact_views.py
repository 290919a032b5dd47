"""Artifacts as the dashboard shows them: markdown as sanitised HTML, tables as rows, progress
as a bar, images by URL; plus the pages that list them (the Artifacts page, a key's history and
a run's Artifacts section, re-fetched live while the run is active)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.artifacts import ArtifactQuery, check_key, table_rows
from headrace_service.app_state import request_database
from headrace_service.dashboard.markdown import markdown_html
from headrace_service.dashboard.templating import bad_request, not_found, render
from headrace_service.store.artifacts import artifact_count_of_flow_run, artifact_list
from headrace_service.store.flow_runs import flow_run_get

# A run's section shows its newest artifacts, so that the page (re-fetched every few seconds
# while the run is active) stays fast however many the run makes; the CLI and API list all.
RUN_SHOWN = 100
MAX_SHOWN = 1000
MAX_TABLE_ROWS = 500


@dataclass(frozen=True)
class ArtifactView:
    row: RowMapping
    html: str | None = None  # markdown, rendered and sanitised
    columns: list[str] | None = None  # table
    rows: list[list[str]] | None = None
    hidden_rows: int = 0
    progress: float | None = None
    image_url: str | None = None


def artifact_view(row: RowMapping) -> ArtifactView:
    data: Any = row["data"]
    kind = row["type"]
    if kind == "markdown" and isinstance(data, str):
        return ArtifactView(row, html=markdown_html(data))
    if kind == "table":
        shape = table_rows(data)
        if shape is not None:
            columns, rows = shape
            return ArtifactView(
                row,
                columns=columns,
                rows=[[_cell(v) for v in r] for r in rows[:MAX_TABLE_ROWS]],
                hidden_rows=max(0, len(rows) - MAX_TABLE_ROWS),
            )
    if kind == "progress" and isinstance(data, int | float):
        return ArtifactView(row, progress=float(data))
    if (
        kind == "image"
        and isinstance(data, str)
        and data.lower().startswith(("https://", "http://"))
    ):
        return ArtifactView(row, image_url=data)
    return ArtifactView(row, html=None)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


async def run_artifacts_fragment(request: Request) -> Response:
    """A run's Artifacts section (what the run page swaps in while the run is active)."""
    try:
        run_id = uuid.UUID(request.path_params["run_id"])
    except ValueError:
        return bad_request(f"{request.path_params['run_id']!r} is not a flow run id")
    async with request_database(request).begin() as conn:
        if await flow_run_get(conn, run_id) is None:
            return not_found(f"flow run {run_id} not found")
        section = await run_artifact_section(conn, run_id)
    return render("_artifacts.html", artifacts=section, run_id=run_id)


@dataclass(frozen=True)
class RunArtifacts:
    shown: list[ArtifactView]
    total: int


async def run_artifact_section(conn: AsyncConnection, run_id: uuid.UUID) -> RunArtifacts:
    """A run's newest artifacts, ready to render, and how many it has."""
    rows = await artifact_list(conn, ArtifactQuery(flow_run_id=run_id, limit=RUN_SHOWN))
    total = len(rows)
    if total == RUN_SHOWN:
        total = await artifact_count_of_flow_run(conn, run_id)
    return RunArtifacts([artifact_view(r) for r in rows], total)


async def artifacts_page(request: Request) -> Response:
    """The latest artifact of each key."""
    async with request_database(request).begin() as conn:
        rows = await artifact_list(conn, ArtifactQuery(latest=True, limit=MAX_SHOWN))
    return render("artifacts.html", title="Artifacts", nav="artifacts", latest=rows)


async def artifact_key_page(request: Request) -> Response:
    """A key's artifacts, latest first, rendered."""
    key = request.path_params["key"]
    try:
        check_key(key)
    except ValueError as error:
        return bad_request(str(error))
    async with request_database(request).begin() as conn:
        rows = await artifact_list(conn, ArtifactQuery(key=key, limit=100))
    if not rows:
        return not_found(f"no artifact with key {key!r}")
    return render(
        "artifact_key.html",
        title=f"Artifact {key}",
        nav="artifacts",
        key=key,
        artifacts=[artifact_view(r) for r in rows],
    )
