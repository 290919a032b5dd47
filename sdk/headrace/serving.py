"""`flow.serve(...)` and `headrace.serve(...)`: one process that deploys flows and runs them.

    if __name__ == "__main__":
        etl.serve(name="hourly", cron="0 * * * *", parameters={"day": "today"})

This module holds what a script builds (`DeploymentSpec`, checked by `to_deployment`); the serving
itself runs a worker, so it lives in `headrace_worker.serving` and `serve` here loads it lazily.
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

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.errors import HeadraceError
from headrace.not_offered import DEPLOY_KEYWORDS, refuse_keywords

if TYPE_CHECKING:
    from headrace.calls import FlowLike
    from headrace.client import HeadraceClient
    from headrace.schemas.deployments import Deployment

DEFAULT_LIMIT = 10
# deploy_flow's options that serve decides itself.
_SERVE_DECIDES = frozenset({"work_pool_name", "path", "entrypoint", "client", "source"})
_SCHEDULE_OPTIONS = ("cron", "interval", "rrule", "timezone", "anchor_date", "schedules")


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
    refuse_keywords(options, DEPLOY_KEYWORDS, f"{flow.name}.to_deployment")
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


def serve(
    *specs: DeploymentSpec,
    pool: str | None = None,
    limit: int = DEFAULT_LIMIT,
    client: HeadraceClient | None = None,
) -> None:
    """Deploy `specs` into a process pool of their own and run its runs until SIGINT/SIGTERM.

    A lazy alias of `headrace_worker.serving.serve`: serving runs a worker, and the SDK sits below
    the worker. The module is looked up by name, not imported by a statement, so the SDK carries
    no import of the worker (import-linter's contract in pyproject.toml) and `import headrace`
    stays light.
    """
    worker_serving = importlib.import_module("headrace_worker.serving")
    worker_serving.serve(*specs, pool=pool, limit=limit, client=client)


def deploy(*specs: DeploymentSpec, work_pool_name: str, **options: Any) -> list[Deployment]:
    """Create or update several deployments at once in the pool `work_pool_name` (Prefect's
    `deploy(flow_a.to_deployment(...), flow_b.to_deployment(...), work_pool_name=...)`); each
    deployment's code folder is its flow file's folder. Prefect's image options fail in one
    line (see docs/migrating-from-prefect.md#docker-and-kubernetes)."""
    from headrace.deployments import deploy_flow

    refuse_keywords(options, DEPLOY_KEYWORDS, "headrace.deploy")
    if options:
        raise TypeError(f"headrace.deploy() got unknown options: {', '.join(sorted(options))}")
    if not specs:
        raise TypeError("headrace.deploy() needs at least one flow.to_deployment(...)")
    return [
        deploy_flow(spec.flow, spec.name, work_pool_name, path=spec.folder, **spec.options)
        for spec in specs
    ]
