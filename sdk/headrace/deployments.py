"""Making a flow a deployment that workers run: `flow.deploy(...)`, `flow.from_source(...)`,
and what `headrace deploy` shares with them (loading a flow from `file.py:function`).

A deployment names its code by a folder on the worker's host (`path`) and an entrypoint relative
to it (`flows/etl.py:etl`); the worker starts `python -m headrace.engine <run id>` in that folder.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.engine.loader import EntrypointError

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.flows import Flow
    from headrace.schemas.deployments import Deployment, DeploymentCreate


def split_entrypoint(entrypoint: str) -> tuple[str, str]:
    """`flows/etl.py:etl` -> (`flows/etl.py`, `etl`); EntrypointError when malformed."""
    file_part, _, function = entrypoint.rpartition(":")
    if not file_part or not function.isidentifier():
        raise EntrypointError(f"expected 'path/to/file.py:function_name', got {entrypoint!r}")
    return file_part, function


def load_flow(folder: str | Path, entrypoint: str) -> Flow[..., Any]:
    """The flow at `entrypoint`, a file relative to `folder`, loaded as a worker's engine will."""
    from headrace.engine.loader import load_flow as load_entrypoint

    file_part, function = split_entrypoint(entrypoint)
    if file_part.endswith(".py"):
        file = (Path(folder) / file_part).resolve()
        if not file.is_file():
            raise EntrypointError(f"file {file} not found")
        return load_entrypoint(f"{file}:{function}")
    return load_entrypoint(entrypoint)


def entrypoint_of(flow: Flow[..., Any], folder: Path) -> str:
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
    flow: Flow[..., Any],
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
    paused: bool = False,
) -> DeploymentCreate:
    """The API request deploying `flow`: its name, parameter schema and retries travel along."""
    from headrace.retries import first_delay
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
        # A run that crashes (its worker died) is rescheduled as often as the flow retries.
        retries=flow.retries,
        retry_delay_seconds=first_delay(flow.retry_delay_seconds, flow.retries),
    )


def send_deployment(request: DeploymentCreate, client: HeadraceClient | None = None) -> Deployment:
    """Create or update the deployment (deploying twice updates it)."""
    from headrace.client import HeadraceClient
    from headrace.schemas.deployments import Deployment

    if client is not None:
        return client.post("/deployments", Deployment, request)
    with HeadraceClient() as own:
        return own.post("/deployments", Deployment, request)


def deploy_flow(
    flow: Flow[..., Any],
    name: str,
    work_pool_name: str,
    *,
    parameters: dict[str, Any] | None = None,
    work_queue_name: str | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    version: str | None = None,
    concurrency_limit: int | None = None,
    paused: bool = False,
    path: str | Path | None = None,
    entrypoint: str | None = None,
    client: HeadraceClient | None = None,
) -> Deployment:
    """`flow.deploy(...)`: the code folder is `path` (default: the current folder), which must
    hold the flow's file; workers on other hosts need the same folder at the same path."""
    folder = Path(path) if path is not None else Path.cwd()
    request = deployment_create(
        flow,
        name=name,
        work_pool_name=work_pool_name,
        path=folder,
        entrypoint=entrypoint or entrypoint_of(flow, folder),
        parameters=parameters,
        work_queue_name=work_queue_name,
        tags=tags,
        description=description,
        version=version,
        concurrency_limit=concurrency_limit,
        paused=paused,
    )
    return send_deployment(request, client)


@dataclass(frozen=True)
class FlowSource:
    """A flow found in a code folder, ready to deploy: `from_source(...).deploy(...)`."""

    folder: Path
    entrypoint: str
    flow: Flow[..., Any]

    def deploy(
        self,
        name: str,
        work_pool_name: str,
        *,
        parameters: dict[str, Any] | None = None,
        work_queue_name: str | None = None,
        tags: Iterable[str] | None = None,
        description: str | None = None,
        version: str | None = None,
        concurrency_limit: int | None = None,
        paused: bool = False,
        client: HeadraceClient | None = None,
    ) -> Deployment:
        return deploy_flow(
            self.flow,
            name,
            work_pool_name,
            parameters=parameters,
            work_queue_name=work_queue_name,
            tags=tags,
            description=description,
            version=version,
            concurrency_limit=concurrency_limit,
            paused=paused,
            path=self.folder,
            entrypoint=self.entrypoint,
            client=client,
        )


def from_source(source: str | Path, entrypoint: str) -> FlowSource:
    """The flow at `entrypoint` (`flows/etl.py:etl`) inside the folder `source`."""
    folder = Path(source).expanduser().resolve()
    if not folder.is_dir():
        raise EntrypointError(f"source folder {folder} does not exist")
    return FlowSource(folder, entrypoint, load_flow(folder, entrypoint))
