"""`headrace deployment ...`: list, inspect, run, pause, resume and delete deployments.

A deployment is named `FLOW/NAME` (e.g. `etl/daily`); `headrace deploy` creates one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli import schedule
from headrace.cli.common import api, read_by_full_name, split_name
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import parse_params
from headrace.cli.watch import watch as follow
from headrace.client import deployments
from headrace.schemas.deployments import (
    DeploymentQuery,
    DeploymentRunCreate,
    DeploymentUpdate,
)

app = typer.Typer(help=group_help("deployment"), no_args_is_help=True)
app.add_typer(schedule.app, name="schedule")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[str, typer.Argument(help="The deployment as FLOW/NAME, e.g. etl/daily.")]


@app.command("ls")
def ls(
    flow: Annotated[str | None, typer.Option(help="Only deployments of this flow.")] = None,
    pool: Annotated[str | None, typer.Option(help="Only deployments of this work pool.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List deployments."""
    with api() as client:
        found = deployments.list_deployments(
            client, DeploymentQuery(flow_name=flow, work_pool_name=pool)
        )
    if as_json:
        print_json(found)
        return
    table(
        ["Deployment", "Entrypoint", "Pool", "Queue", "Paused", "Version"],
        [
            (
                d.full_name,
                d.entrypoint,
                d.work_pool_name,
                d.work_queue_name,
                "yes" if d.paused else "no",
                d.version,
            )
            for d in found
        ],
    )


@app.command("inspect")
def inspect(full_name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a deployment: code, pool, default parameters, limits."""
    with api() as client:
        deployment = read_by_full_name(client, full_name)
    if as_json:
        print_json(deployment)
        return
    d = deployment
    console.print(f"[bold]{d.full_name}[/bold]  {d.id}")
    lines = [
        f"entrypoint: {d.entrypoint}   folder: {d.path or ''}",
        f"pool: {d.work_pool_name or '(deleted)'}   queue: {d.work_queue_name or ''}"
        f"   paused: {'yes' if d.paused else 'no'}",
        f"concurrency: {'unlimited' if d.concurrency_limit is None else d.concurrency_limit}"
        f"{f' per {d.concurrency_key}' if d.concurrency_key else ''}"
        f"   retries: {d.retries}   version: {d.version or ''}",
        f"tags: {', '.join(d.tags)}",
        f"parameters: {d.parameters}",
    ]
    if d.description:
        lines.append(f"description: {d.description}")
    for line in lines:
        console.print(line, markup=False)


@app.command("run")
def run(
    full_name: NameArgument,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Parameter key=value (JSON values allowed); repeatable."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Extra tag; repeatable.")] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Run at most once per key (e.g. a CI build id)."),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Follow the run's states and logs; exit 0 Completed, 1 Failed or Crashed, "
            "130 Cancelled, 124 on --timeout.",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="With --watch: stop watching after this many seconds (exit 124)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a run of a deployment now; prints the run id (with --watch, follows it)."""
    if timeout is not None and not watch:
        fail("--timeout: it limits --watch; add --watch, e.g. --watch --timeout 600")
    if as_json and watch:
        fail("--json: prints the new run and exits; it does not combine with --watch")
    body = DeploymentRunCreate(parameters=parse_params(param), tags=tag or [])
    flow_name, name = split_name(full_name)
    with api() as client:
        flow_run = deployments.run_by_name(
            client, flow_name, name, body, idempotency_key=idempotency_key
        )
        if watch:
            print(f"run {flow_run.id} ({flow_run.name}) of {full_name}", flush=True)
            raise typer.Exit(follow(client, flow_run, timeout))
    if as_json:
        print_json(flow_run)
        return
    print(flow_run.id)


def _set_paused(full_name: str, paused: bool) -> None:
    with api() as client:
        deployment = read_by_full_name(client, full_name)
        deployments.update(client, deployment.id, DeploymentUpdate(paused=paused))
    console.print(f"{'paused' if paused else 'resumed'} deployment {full_name}", markup=False)


@app.command("pause")
def pause(full_name: NameArgument) -> None:
    """Pause a deployment: its schedules stop; runs asked for by hand still run."""
    _set_paused(full_name, True)


@app.command("resume")
def resume(full_name: NameArgument) -> None:
    """Resume a paused deployment."""
    _set_paused(full_name, False)


@app.command("delete")
def delete(full_name: NameArgument) -> None:
    """Delete a deployment; its runs waiting for a worker are cancelled."""
    with api() as client:
        deployment = read_by_full_name(client, full_name)
        deployments.delete(client, deployment.id)
    console.print(f"deleted deployment {full_name}", markup=False)
