"""The REST API under /api: one module per resource, each with a `router`."""

from __future__ import annotations

from headrace_service.api import (
    api_keys,
    artifacts,
    automations,
    blocks,
    cancel,
    code_bundles,
    concurrency_limits,
    deployments,
    events,
    flow_run_wait,
    flow_runs,
    flows,
    global_concurrency,
    health,
    logs,
    pauses,
    results,
    retry,
    run_inputs,
    schedules,
    task_runs,
    variables,
    webhooks,
    work_pools,
    workers,
)
from headrace_service.api.routing import ApiRoute

ROUTERS = [
    health.router,
    api_keys.router,
    flows.router,
    flow_runs.router,
    task_runs.router,
    logs.router,
    results.router,
    concurrency_limits.router,
    work_pools.router,
    workers.router,
    deployments.router,
    schedules.router,
    flow_run_wait.router,
    cancel.router,
    pauses.router,
    run_inputs.router,
    retry.router,
    code_bundles.router,
    artifacts.router,
    variables.router,
    blocks.router,
    global_concurrency.router,
    events.router,
    automations.router,
    webhooks.router,
]


def all_routes() -> list[ApiRoute]:
    return [route for router in ROUTERS for route in router.routes]
