"""`flow.serve(...)` and `headrace.serve(...)`: one process that deploys flows and runs them.

    if __name__ == "__main__":
        etl.serve(name="hourly", cron="0 * * * *", parameters={"day": "today"})

Built from the regular pieces, so a served deployment behaves like any other (the scheduler
creates its runs, `headrace deployment run` triggers it, the dashboard shows it):

1. a process work pool of its own is created if missing (`serve-<flow>-<name>`, or
   `serve-<hash>` for several deployments, unless `pool=` names one);
2. each deployment is created or updated in it, its code folder the flow file's folder;
3. a worker for that pool runs in this process until SIGINT/SIGTERM: it claims the runs and
   starts each as a subprocess (`python -m headrace.engine <run id>`), like Prefect's serve,
   so a crashing or hanging flow never takes the serving process down. The first Ctrl-C lets
   running runs finish (HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS) and returns; a second one exits
   at once.

The runs load the flow from its file, so the call to `serve` must sit under
`if __name__ == "__main__":` (otherwise each run would start serving again).

This module is `headrace.serving`, not `headrace.serve`: a submodule of that name would replace
the `headrace.serve` function on the package as soon as it is imported.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.errors import HeadraceError

if TYPE_CHECKING:
    from headrace.calls import FlowLike
    from headrace.client import HeadraceClient

DEFAULT_LIMIT = 10
# deploy_flow's options that serve decides itself.
_SERVE_DECIDES = frozenset({"work_pool_name", "path", "entrypoint", "client", "source"})
_SCHEDULE_OPTIONS = ("cron", "interval", "rrule", "timezone", "anchor_date", "schedules")

_logger = logging.getLogger("headrace.serve")


class ServeError(HeadraceError):
    """The deployments cannot be served (the message says why)."""


@dataclass(frozen=True)
class DeploymentSpec:
    """A deployment to serve: `flow.to_deployment(name, **options)`, options as `flow.deploy`."""

    flow: FlowLike
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.name}"

    @property
    def folder(self) -> Path:
        """The code folder: the folder of the flow's file (runs start there)."""
        source = inspect.getsourcefile(self.flow.fn)
        if source is None:
            raise ServeError(f"flow {self.flow.name!r} has no source file to serve from")
        return Path(source).resolve().parent


def to_deployment(flow: FlowLike, name: str, **options: Any) -> DeploymentSpec:
    """Check the options now (a typo or a bad cron fails before anything is deployed)."""
    from headrace.deployments import DeployOptions, deployment_schedules
    from headrace.schedules import InvalidScheduleOptions

    allowed = set(DeployOptions.__annotations__) - _SERVE_DECIDES
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"unknown deployment options {unknown}; known: {sorted(allowed)}")
    try:
        deployment_schedules(**{k: options[k] for k in _SCHEDULE_OPTIONS if k in options})
    except InvalidScheduleOptions as error:
        raise ServeError(f"deployment {flow.name}/{name}: {error}") from None
    return DeploymentSpec(flow, name, options)


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
    from headrace.client import HeadraceClient
    from headrace_worker.worker import Worker

    if not specs:
        raise ServeError("nothing to serve: pass flow.to_deployment(name=...) for each flow")
    pool = pool or serve_pool_name(specs)
    own_client = client or HeadraceClient()
    _configure_logging()
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
    from headrace.client import work_pools
    from headrace.errors import NotFound
    from headrace.pool_types import PROCESS
    from headrace.schemas.work_pools import WorkPoolCreate

    try:
        existing = work_pools.read(client, pool)
    except NotFound:
        work_pools.create(client, WorkPoolCreate(name=pool, type=PROCESS))
        return
    if existing.type != PROCESS:
        raise ServeError(f"work pool {pool} is of type {existing.type}; serve needs a process pool")


def deploy(spec: DeploymentSpec, pool: str, client: HeadraceClient) -> None:
    from headrace.deployments import deploy_flow

    deployment = deploy_flow(
        spec.flow, spec.name, pool, path=spec.folder, client=client, **spec.options
    )
    _logger.info("deployed %s from %s", deployment.full_name, spec.folder)


def _configure_logging() -> None:
    # The worker reports through logging; a script that set nothing up still sees it.
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)-7s %(message)s",
            datefmt="%H:%M:%S",
            stream=sys.stderr,
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
