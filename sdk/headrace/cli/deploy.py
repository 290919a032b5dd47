"""`headrace deploy file.py:flow --name N --pool P`: make a flow runnable by workers.

The code folder is the current folder; the entrypoint is the file relative to it, so workers on
other hosts need the same folder at the same path — unless `--upload` stores the folder through
the API or `--source git+URL@ref` names a git repository (docs/code-sources.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.output import console
from headrace.cli.params import parse_params, resource_name
from headrace.client.transport import detail_text
from headrace.deployments import deployment_create, deployment_schedules, split_entrypoint
from headrace.entrypoints import EntrypointError
from headrace.flows import load_flow
from headrace.schedules import InvalidScheduleOptions
from headrace.schemas.schedules import CRON_EXAMPLE, RRULE_EXAMPLE, describe

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.schemas.code_sources import BundleSource, GitSource


def deploy(
    entrypoint: Annotated[
        str, typer.Argument(help="The flow to deploy: path/to/file.py:function.")
    ],
    name: Annotated[
        str,
        typer.Option("--name", "-n", help="Deployment name, e.g. daily.", callback=resource_name),
    ],
    pool: Annotated[
        str,
        typer.Option(
            "--pool", "-p", help="Work pool whose workers run it.", callback=resource_name
        ),
    ],
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            "-q",
            help="Work queue of the pool (default: default).",
            callback=resource_name,
        ),
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
    concurrency_key: Annotated[
        str | None,
        typer.Option(
            help="Count --concurrency-limit per value of this template over the run's "
            "parameters, e.g. '{{ parameters.customer }}'."
        ),
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help=f"Run on a cron schedule, e.g. '{CRON_EXAMPLE}'.")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Run every this many seconds, e.g. 3600.")
    ] = None,
    rrule: Annotated[
        str | None, typer.Option(help=f"Run on an iCalendar RRULE, e.g. '{RRULE_EXAMPLE}'.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA time zone of the schedule, e.g. Europe/Paris (default UTC)."),
    ] = None,
    anchor_date: Annotated[
        datetime | None,
        typer.Option(help="Start of an --interval schedule (default 2020-01-01 00:00)."),
    ] = None,
    upload: Annotated[
        bool,
        typer.Option(
            "--upload", help="Upload the current folder (minus .gitignore'd files) for workers."
        ),
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(help="Run the code of a git repository: git+https://host/repo.git@ref."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(help="Image of the run's container (the job variable image; docker pools)."),
    ] = None,
    job_variable: Annotated[
        list[str] | None,
        typer.Option(
            "--job-variable",
            help="A job variable of the pool type, key=value (JSON values allowed), e.g. "
            "network=host.",
        ),
    ] = None,
    trigger: Annotated[
        list[str] | None,
        typer.Option(
            "--trigger",
            help="An automation that runs this deployment, as JSON (repeatable), e.g. "
            '\'{"expect": ["shop.order.paid"]}\'; replaces the deployment\'s triggers '
            "(docs/automations.md).",
        ),
    ] = None,
) -> None:
    """Create or update a deployment of a flow (deploying twice updates it).

    With --cron, --interval or --rrule the deployment gets that one schedule (replacing its
    schedules); without, it keeps the schedules it has.
    """
    folder = Path.cwd()
    code_source, folder = _code_source(upload, source, folder)
    parameters = parse_params(param)
    job_variables = parse_params(job_variable, option="--job-variable")
    if image is not None:
        job_variables["image"] = image
    try:
        schedules = deployment_schedules(
            cron=cron, interval=interval, rrule=rrule, timezone=timezone, anchor_date=anchor_date
        )
    except InvalidScheduleOptions as exc:
        fail(f"--{exc}")
    try:
        file_part, _ = split_entrypoint(entrypoint)
        relative = _relative_to(folder, Path(file_part))
        entry = f"{relative}:{entrypoint.rpartition(':')[2]}"
        flow = load_flow(folder, entry)
    except EntrypointError as error:
        fail(str(error))
    try:
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
            concurrency_key=concurrency_key,
            schedules=schedules,
            triggers=_triggers(trigger),
        )
    except ValidationError as error:
        fail(detail_text(error.errors(include_url=False)))
    request.job_variables = job_variables
    from headrace.client import deployments

    with api() as client:
        if upload:
            request.source = _upload(client, folder)
        else:
            request.source = code_source
        deployment = deployments.create(client, request)
    full_name = f"{deployment.flow_name}/{deployment.name}"
    console.print(f"deployment [bold]{full_name}[/bold] deployed to pool {pool}", highlight=False)
    if schedules:
        console.print(f"schedule:      {describe(schedules[0].schedule)}", markup=False)
    console.print(f"run it:        headrace deployment run {full_name}", highlight=False)
    console.print(f"start a worker: headrace worker start --pool {pool}", highlight=False)


def _triggers(values: list[str] | None) -> list[Any] | None:
    """The --trigger options as JSON objects; None keeps the deployment's triggers."""
    if not values:
        return None
    parsed = []
    for i, value in enumerate(values):
        try:
            parsed.append(json.loads(value))
        except ValueError as error:
            fail(f"--trigger {i + 1}: not valid JSON: {error}")
    return parsed


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


def _code_source(upload: bool, source: str | None, folder: Path) -> tuple[GitSource | None, Path]:
    """With --source: the git source and its checkout here (the flow is loaded from it)."""
    if source is None:
        return None, folder
    if upload:
        fail("--upload and --source exclude each other: upload this folder or name a repository")
    if not source.startswith("git+"):
        fail(f"--source: expected git+https://host/repo.git@ref, got {source!r}")
    from headrace.git_source import GitSourceError, local_checkout, parse_git_source

    try:
        return local_checkout(*parse_git_source(source))
    except GitSourceError as error:
        fail(f"--source: {error}")


def _upload(client: HeadraceClient, folder: Path) -> BundleSource:
    from headrace.bundles import BundleError, upload_folder
    from headrace.settings import client_settings

    try:
        bundle_source = upload_folder(client, folder, client_settings().bundle_max_bytes)
    except BundleError as error:
        fail(f"--upload: {error}")
    console.print(f"uploaded code bundle {bundle_source.sha256[:12]}", highlight=False)
    return bundle_source
