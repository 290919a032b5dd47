"""Dashboard routes (Jinja2 pages, no build step, no CDN) and the SSE stream feeding them."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from headrace_service.dashboard.artifact_views import (
    artifact_key_page,
    artifacts_page,
    run_artifacts_fragment,
)
from headrace_service.dashboard.automation_pages import automation_page, automations_page
from headrace_service.dashboard.block_pages import block_new_page, block_page, blocks_page
from headrace_service.dashboard.deployment_pages import deployment_page, deployments_page
from headrace_service.dashboard.event_pages import events_dashboard_page
from headrace_service.dashboard.event_stream import event_stream_endpoint
from headrace_service.dashboard.events import events_endpoint
from headrace_service.dashboard.overview_page import overview_page
from headrace_service.dashboard.pool_pages import concurrency_page, work_pools_page
from headrace_service.dashboard.run_pages import run_detail_page, run_rows_fragment, runs_page
from headrace_service.dashboard.templating import HERE
from headrace_service.dashboard.variable_pages import variables_page


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", overview_page, methods=["GET"]),
        Route("/runs", runs_page, methods=["GET"]),
        Route("/runs/rows", run_rows_fragment, methods=["GET"]),
        Route("/runs/{run_id}", run_detail_page, methods=["GET"]),
        Route("/runs/{run_id}/artifacts", run_artifacts_fragment, methods=["GET"]),
        Route("/artifacts", artifacts_page, methods=["GET"]),
        Route("/artifacts/{key}", artifact_key_page, methods=["GET"]),
        Route("/variables", variables_page, methods=["GET"]),
        Route("/deployments", deployments_page, methods=["GET"]),
        Route("/deployments/{deployment_id}", deployment_page, methods=["GET"]),
        Route("/work-pools", work_pools_page, methods=["GET"]),
        Route("/concurrency", concurrency_page, methods=["GET"]),
        Route("/blocks", blocks_page, methods=["GET"]),
        Route("/blocks/new/{slug}", block_new_page, methods=["GET"]),
        Route("/blocks/{slug}/{name}", block_page, methods=["GET"]),
        Route("/events", events_dashboard_page, methods=["GET"]),
        Route("/automations", automations_page, methods=["GET"]),
        Route("/automations/{automation_id}", automation_page, methods=["GET"]),
        Route("/api/events", events_endpoint, methods=["GET"]),
        Route("/api/event_feed/stream", event_stream_endpoint, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
