"""Serving: one process that deploys flows and runs their runs with a worker of its own.

`headrace.serve(...)` and `flow.serve(...)` load this module lazily (the SDK never imports the
worker); see `headrace.serving` for what a script passes in and the steps taken here.
"""

from __future__ import annotations

import hashlib
import logging
import sys

from headrace.client import HeadraceClient, work_pools
from headrace.deployments import deploy_flow
from headrace.errors import NotFound
from headrace.pool_types import PROCESS
from headrace.schemas.work_pools import WorkPoolCreate
from headrace.serving import DEFAULT_LIMIT, DeploymentSpec, ServeError
from headrace_worker.worker import Worker, configure_logging

_logger = logging.getLogger("headrace.serve")


def serve_pool_name(specs: tuple[DeploymentSpec, ...]) -> str:
    """One pool per served set, so two serving processes never run each other's runs."""
    if len(specs) == 1:
        return f"serve-{specs[0].flow.name}-{specs[0].name}"
    names = "\n".join(sorted(spec.full_name for spec in specs))
    return f"serve-{hashlib.sha256(names.encode()).hexdigest()[:12]}"


def serve(
    *specs: DeploymentSpec,
    pool: str | None = None,
    limit: int = DEFAULT_LIMIT,
    client: HeadraceClient | None = None,
) -> None:
    """Deploy `specs` into a process pool of their own and run its runs until SIGINT/SIGTERM."""
    if not specs:
        raise ServeError("nothing to serve: pass flow.to_deployment(name=...) for each flow")
    pool = pool or serve_pool_name(specs)
    own_client = client or HeadraceClient()
    configure_logging()
    ensure_process_pool(own_client, pool)
    for spec in specs:
        deploy(spec, pool, own_client)
    print(
        f"serving {', '.join(spec.full_name for spec in specs)} (pool {pool}); "
        f"run one with: headrace deployment run {specs[0].full_name}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    Worker(pool, limit=limit, client=own_client).run()


def ensure_process_pool(client: HeadraceClient, pool: str) -> None:
    """Create the process pool `pool` if missing; ServeError if it exists with another type."""
    try:
        existing = work_pools.read(client, pool)
    except NotFound:
        work_pools.create(client, WorkPoolCreate(name=pool, type=PROCESS))
        return
    if existing.type != PROCESS:
        raise ServeError(f"work pool {pool} is of type {existing.type}; serve needs a process pool")


def deploy(spec: DeploymentSpec, pool: str, client: HeadraceClient) -> None:
    """Create or update the deployment `spec` in `pool`, its code folder the flow file's."""
    deployment = deploy_flow(
        spec.flow, spec.name, pool, path=spec.folder, client=client, **spec.options
    )
    _logger.info("deployed %s from %s", deployment.full_name, spec.folder)
