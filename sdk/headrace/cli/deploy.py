"""`headrace deploy file.py:flow --name N --pool P`: make a flow runnable by workers.

The code folder is the current folder; the entrypoint is the file relative to it, so workers on
other hosts need the same folder at the same path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.output import console, fail
from headrace.cli.params import parse_params
from headrace.deployments import deployment_create, load_flow, split_entrypoint
from headrace.engine.loader import EntrypointError


def deploy(
    entrypoint: Annotated[
        str, typer.Argument(help="The flow to deploy: path/to/file.py:function.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name, e.g. daily.")],
    pool: Annotated[str, typer.Option("--pool", "-p", help="Work pool whose workers run it.")],
    queue: Annotated[
        str | None, typer.Option("--queue", "-q", help="Work queue of the pool (default: default).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Default parameter key=value (JSON values allowed)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    description: Annotated[str | None, typer.Option(help="Description.")] = None,
    version: Annotated[str | None, typer.Option(help="Version label.")] = None,
    concurrency_limit: Annotated[
        int | None, typer.Option(min=0, help="Most runs of this deployment at once.")
    ] = None,
) -> None:
    """Create or update a deployment of a flow (deploying twice updates it)."""
    folder = Path.cwd()
    parameters = parse_params(param)
    try:
        file_part, _ = split_entrypoint(entrypoint)
        relative = _relative_to(folder, Path(file_part))
        entry = f"{relative}:{entrypoint.rpartition(':')[2]}"
        flow = load_flow(folder, entry)
    except EntrypointError as error:
        fail(str(error))
    request = deployment_create(
        flow,
        name=name,
        work_pool_name=pool,
        path=folder,
        entrypoint=entry,
        parameters=parameters,
        work_queue_name=queue,
        tags=tag,
        description=description,
        version=version,
        concurrency_limit=concurrency_limit,
    )
    from headrace.schemas.deployments import Deployment

    with api() as client:
        deployment = client.post("/deployments", Deployment, request)
    full_name = f"{deployment.flow_name}/{deployment.name}"
    console.print(f"deployment [bold]{full_name}[/bold] deployed to pool {pool}", highlight=False)
    console.print(f"run it:        headrace deployment run {full_name}", highlight=False)
    console.print(f"start a worker: headrace worker start --pool {pool}", highlight=False)


def _relative_to(folder: Path, file: Path) -> str:
    """The file relative to the code folder, or an EntrypointError if it lies outside."""
    resolved = (folder / file).resolve()
    if not resolved.is_file():
        raise EntrypointError(f"file {file} not found (looked in {folder})")
    try:
        return resolved.relative_to(folder.resolve()).as_posix()
    except ValueError:
        raise EntrypointError(
            f"{file} is outside the current folder {folder}; run headrace deploy from the "
            "folder that holds your code"
        ) from None
