"""The REST API under /api: one module per resource, each with a `router`."""

from __future__ import annotations

from headrace_service.api import flow_runs, flows, health, logs, task_runs
from headrace_service.api.routing import ApiRoute

ROUTERS = [health.router, flows.router, flow_runs.router, task_runs.router, logs.router]


def all_routes() -> list[ApiRoute]:
    return [route for router in ROUTERS for route in router.routes]
