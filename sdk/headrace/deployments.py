"""Making a flow a deployment that workers run: `flow.deploy(...)`, `flow.from_source(...)`,
and what `headrace deploy` shares with them (finding `file.py:function` in a code folder).

A deployment names its code by a folder on the worker's host (`path`) and an entrypoint relative
to it (`flows/etl.py:etl`); the worker starts `python -m headrace.engine <run id>` in that folder.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, Unpack

from headrace.context import flow_run_context, task_run_context
from headrace.entrypoints import EntrypointError
from headrace.exceptions import FlowRunWaitTimeout
from headrace.not_offered import DEPLOY_KEYWORDS, refuse_keywords
from headrace.retries import first_delay

if TYPE_CHECKING:
    from headrace.calls import FlowLike
    from headrace.client import HeadraceClient
    from headrace.schemas.code_sources import CodeSource
    from headrace.schemas.deployments import Deployment, DeploymentCreate
    from headrace.schemas.flow_runs import FlowRun
    from headrace.schemas.schedules import (
        CronSchedule,
        DeploymentScheduleCreate,
        IntervalSchedule,
        RRuleSchedule,
    )

    # A schedule as `flow.deploy(schedules=[...])` takes it: with its own parameters and
    # pause flag, or a bare cron/interval/rrule schedule.
    ScheduleLike = DeploymentScheduleCreate | CronSchedule | IntervalSchedule | RRuleSchedule


P = ParamSpec("P")
R = TypeVar("R")


def split_entrypoint(entrypoint: str) -> tuple[str, str]:
    """`flows/etl.py:etl` -> (`flows/etl.py`, `etl`); EntrypointError when malformed."""
    file_part, _, function = entrypoint.rpartition(":")
    if not file_part or not function.isidentifier():
        raise EntrypointError(f"expected 'path/to/file.py:function_name', got {entrypoint!r}")
    return file_part, function


def entrypoint_path(folder: str | Path, entrypoint: str) -> str:
    """`entrypoint` with its file made absolute (relative to `folder`), as a worker's engine
    will find it; `package.module:function` unchanged."""
    file_part, function = split_entrypoint(entrypoint)
    if file_part.endswith(".py"):
        file = (Path(folder) / file_part).resolve()
        if not file.is_file():
            raise EntrypointError(f"file {file} not found")
        return f"{file}:{function}"
    return entrypoint


def entrypoint_of(flow: FlowLike, folder: Path) -> str:
    """The entrypoint naming `flow` relative to `folder` (its file must lie inside `folder`)."""
    source = inspect.getsourcefile(flow.fn)
    if source is None:
        raise EntrypointError(f"flow {flow.name!r} has no source file to deploy from")
    file = Path(source).resolve()
    try:
        relative = file.relative_to(folder.resolve())
    except ValueError:
        raise EntrypointError(
            f"{file} is outside the code folder {folder}; deploy from a folder that holds it"
        ) from None
    return f"{relative.as_posix()}:{flow.fn.__name__}"


def deployment_create(
    flow: FlowLike,
    *,
    name: str,
    work_pool_name: str,
    path: Path,
    entrypoint: str,
    parameters: dict[str, Any] | None = None,
    work_queue_name: str | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    version: str | None = None,
    concurrency_limit: int | None = None,
    concurrency_key: str | None = None,
    paused: bool = False,
    schedules: list[DeploymentScheduleCreate] | None = None,
    source: CodeSource | None = None,
    triggers: Iterable[Any] | None = None,
) -> DeploymentCreate:
    """The API request deploying `flow`: its name, parameter schema and retries travel along."""
    # Here and below: the schemas, schedules and the client load pydantic and httpx, kept out of
    # `from headrace import flow` until something is deployed.
    from headrace.schemas.deployments import DeploymentCreate

    return DeploymentCreate(
        flow_name=flow.name,
        name=name,
        entrypoint=entrypoint,
        path=str(path.resolve()),
        parameters=parameters or {},
        parameter_schema=flow.parameter_schema,
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        tags=sorted(set(tags or ())),
        description=description if description is not None else flow.description,
        version=version,
        paused=paused,
        concurrency_limit=concurrency_limit,
        concurrency_key=concurrency_key,
        # A run that crashes (its worker died) is rescheduled as often as the flow retries.
        retries=flow.retries,
        retry_delay_seconds=first_delay(flow.retry_delay_seconds, flow.retries),
        schedules=schedules,
        source=source,
        # Dicts or DeploymentTrigger models; validated with the rest of the request.
        triggers=None if triggers is None else [_trigger_dict(t) for t in triggers],
    )


def _trigger_dict(trigger: Any) -> Any:
    dump = getattr(trigger, "model_dump", None)
    return dump(exclude_unset=True) if callable(dump) else trigger


def deployment_schedules(
    *,
    cron: str | None = None,
    interval: float | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    anchor_date: datetime | None = None,
    schedules: Iterable[ScheduleLike] | None = None,
) -> list[DeploymentScheduleCreate] | None:
    """The schedules a deployment gets from `cron=`/`interval=`/`rrule=` and `schedules=[...]`.

    None when none is given: deploying again then keeps the schedules the deployment has (made
    with `headrace deployment schedule create`, say). Raises InvalidScheduleOptions naming the
    option when the options do not make a valid schedule.
    """
    from headrace.schedules import schedule_from_options
    from headrace.schemas.schedules import DeploymentScheduleCreate

    listed = (
        None
        if schedules is None
        else [
            item
            if isinstance(item, DeploymentScheduleCreate)
            else DeploymentScheduleCreate(schedule=item)
            for item in schedules
        ]
    )
    single = schedule_from_options(cron, interval, rrule, timezone, anchor_date)
    if single is None:
        return listed
    return [*(listed or []), DeploymentScheduleCreate(schedule=single)]


def send_deployment(request: DeploymentCreate, client: HeadraceClient | None = None) -> Deployment:
    """Create or update the deployment (deploying twice updates it)."""
    from headrace.client import HeadraceClient, deployments

    if client is not None:
        return deployments.create(client, request)
    with HeadraceClient() as own:
        return deployments.create(own, request)


class DeployOptions(TypedDict, total=False):
    """The options `flow.deploy(...)`, `from_source(...).deploy(...)` and `to_deployment(...)`
    share (one list, so the three cannot drift apart)."""

    parameters: dict[str, Any] | None
    work_queue_name: str | None
    tags: Iterable[str] | None
    description: str | None
    version: str | None
    concurrency_limit: int | None
    # A template over the run's parameters: the limit then counts per rendered value.
    concurrency_key: str | None
    paused: bool
    cron: str | None
    interval: float | None
    rrule: str | None
    timezone: str | None
    anchor_date: datetime | None
    schedules: Iterable[ScheduleLike] | None
    # Automations that run this deployment (DeploymentTrigger or dicts, docs/automations.md):
    # a list replaces the deployment's triggers, [] removes them, None keeps them.
    triggers: Iterable[Any] | None
    client: HeadraceClient | None


def deploy_flow(
    flow: FlowLike,
    name: str,
    work_pool_name: str,
    *,
    path: str | Path | None = None,
    entrypoint: str | None = None,
    source: CodeSource | None = None,
    **options: Unpack[DeployOptions],
) -> Deployment:
    """`flow.deploy(...)`: the code folder is `path` (default: the current folder), which must
    hold the flow's file; workers on other hosts need the same folder at the same path.

    `cron=` (with `timezone=`), `interval=` (with `anchor_date=`) or `rrule=` add one schedule;
    `schedules=[...]` gives several. Without any, the deployment keeps its schedules; pass
    `schedules=[]` to remove them.
    """
    refuse_keywords(options, DEPLOY_KEYWORDS, f"{flow.name}.deploy")
    unknown = sorted(set(options) - set(DeployOptions.__annotations__))
    if unknown:
        raise TypeError(f"{flow.name}.deploy() got unknown options: {', '.join(unknown)}")
    folder = Path(path) if path is not None else Path.cwd()
    request = deployment_create(
        flow,
        name=name,
        work_pool_name=work_pool_name,
        path=folder,
        entrypoint=entrypoint or entrypoint_of(flow, folder),
        parameters=options.get("parameters"),
        work_queue_name=options.get("work_queue_name"),
        tags=options.get("tags"),
        description=options.get("description"),
        version=options.get("version"),
        concurrency_limit=options.get("concurrency_limit"),
        concurrency_key=options.get("concurrency_key"),
        paused=options.get("paused", False),
        schedules=deployment_schedules(
            cron=options.get("cron"),
            interval=options.get("interval"),
            rrule=options.get("rrule"),
            timezone=options.get("timezone"),
            anchor_date=options.get("anchor_date"),
            schedules=options.get("schedules"),
        ),
        source=source,
        triggers=options.get("triggers"),
    )
    return send_deployment(request, options.get("client"))


@dataclass(frozen=True)
class FlowSource:
    """A flow found in a code folder, ready to deploy: `from_source(...).deploy(...)`."""

    folder: Path
    entrypoint: str
    flow: FlowLike
    # Set for a git repository: workers fetch it themselves (`folder` is this host's checkout).
    source: CodeSource | None = None

    def deploy(
        self, name: str, work_pool_name: str, **options: Unpack[DeployOptions]
    ) -> Deployment:
        return deploy_flow(
            self.flow,
            name,
            work_pool_name,
            path=self.folder,
            entrypoint=self.entrypoint,
            source=self.source,
            **options,
        )


def source_folder(source: str | Path) -> tuple[Path, CodeSource | None]:
    """The code folder of `flow.from_source(source, ...)`: the folder `source`, or this host's
    checkout of a git repository (`https://host/repo.git`, `git+file:///srv/repo.git@v1`: a ref
    after `@`) with the code source workers fetch it from."""
    # Here: the git code loads subprocess (~5 ms), needed only for a git source.
    from headrace.git_source import GitSourceError, is_git_url, local_checkout, parse_git_source

    if isinstance(source, str) and is_git_url(source):
        try:
            git_source, checkout_folder = local_checkout(*parse_git_source(source))
        except GitSourceError as error:
            raise EntrypointError(str(error)) from None
        return checkout_folder, git_source
    folder = Path(source).expanduser().resolve()
    if not folder.is_dir():
        raise EntrypointError(f"source folder {folder} does not exist")
    return folder, None


def in_async_code() -> bool:
    """Whether the caller is async code: an async task or flow run, or outside any run a
    coroutine on a running event loop (Prefect's rule for its functions that are both)."""
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return task_ctx.task.isasync
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.flow.isasync
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_deployment(
    name: str | uuid.UUID,
    parameters: dict[str, Any] | None = None,
    scheduled_time: datetime | None = None,
    timeout: float | None = None,
    poll_interval: float = 5,
    tags: Iterable[str] | None = None,
    idempotency_key: str | None = None,
    flow_run_name: str | None = None,
    as_subflow: bool = True,
    client: HeadraceClient | None = None,
) -> FlowRun:
    """Create a run of the deployment `name` ("flow/deployment", or its id) for a worker to
    take, and return it once final; `timeout=0` returns it at once, `timeout=None` waits as
    long as it takes, and a run still unfinished after `timeout` seconds is returned as it is.

    As in Prefect, called from async code (an async flow or task, or a coroutine outside any
    run) it returns a coroutine to await; `arun_deployment` always does. `as_subflow` and
    `poll_interval` are accepted for Prefect's signature: the run is not linked to the flow
    run that asked for it, and the API is long-polled (see
    docs/migrating-from-prefect.md#deployments-from-code)."""
    del poll_interval, as_subflow
    from headrace.client import HeadraceClient, deployments, flow_runs
    from headrace.flow_runs import wait_until_final
    from headrace.schemas.deployments import DeploymentRunCreate

    own = client is None
    active = client or HeadraceClient()
    try:
        if isinstance(name, uuid.UUID):
            deployment = deployments.read(active, name)
            flow_name, deployment_name = deployment.flow_name, deployment.name
        else:
            flow_name, sep, deployment_name = name.partition("/")
            if not sep or not flow_name or not deployment_name:
                raise ValueError(f"run_deployment: name must be 'flow/deployment', got {name!r}")
        body = DeploymentRunCreate(
            parameters=parameters or {},
            tags=sorted(set(tags or ())),
            scheduled_time=scheduled_time,
            name=flow_run_name,
        )
        run = deployments.run_by_name(
            active, flow_name, deployment_name, body, idempotency_key=idempotency_key
        )
        if timeout is not None and timeout <= 0:
            return run
        try:
            return wait_until_final(run.id, timeout, active)
        except FlowRunWaitTimeout:
            return flow_runs.read(active, run.id)
    finally:
        if own:
            active.close()


def _both_ways(blocking: Callable[P, R]) -> Callable[P, Any]:
    """`blocking` for sync callers; for async code (`in_async_code`) a coroutine running it in
    a thread, as Prefect's functions that are both sync and async behave."""

    @functools.wraps(blocking)
    def either(*args: P.args, **kwargs: P.kwargs) -> Any:
        if in_async_code():
            return asyncio.to_thread(blocking, *args, **kwargs)
        return blocking(*args, **kwargs)

    return either


run_deployment = _both_ways(_run_deployment)
run_deployment.__name__ = "run_deployment"


async def arun_deployment(*args: Any, **kwargs: Any) -> FlowRun:
    """`run_deployment`, awaited (the same arguments)."""
    return await asyncio.to_thread(_run_deployment, *args, **kwargs)
