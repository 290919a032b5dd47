"""`headrace deployment schedule ...`: list, add, pause, resume and delete the schedules of a
deployment. Mounted under `headrace deployment` as `schedule`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from headrace.cli.common import api, read_by_full_name
from headrace.cli.exits import fail
from headrace.cli.output import console, print_json, table
from headrace.cli.params import parse_params
from headrace.client import HeadraceClient
from headrace.client import schedules as deployment_schedules
from headrace.schedules import InvalidScheduleOptions, schedule_from_options
from headrace.schemas.deployments import Deployment
from headrace.schemas.schedules import (
    CRON_EXAMPLE,
    DeploymentSchedule,
    DeploymentScheduleCreate,
    DeploymentScheduleUpdate,
    describe,
)

app = typer.Typer(
    help="List, add, pause, resume and delete a deployment's schedules.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="The deployment as FLOW/NAME, e.g. etl/daily.")]
IdArgument = Annotated[
    str | None,
    typer.Argument(help="The schedule's id (see `schedule ls`); optional when it has only one."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _schedules(client: HeadraceClient, deployment: Deployment) -> list[DeploymentSchedule]:
    return deployment_schedules.of_deployment(client, deployment.id)


def _pick(client: HeadraceClient, full_name: str, schedule_id: str | None) -> DeploymentSchedule:
    """The schedule named by id, or the deployment's only one."""
    schedules = _schedules(client, read_by_full_name(client, full_name))
    if schedule_id is None:
        if len(schedules) == 1:
            return schedules[0]
        ids = ", ".join(str(s.id) for s in schedules) or "none"
        fail(f"deployment {full_name} has {len(schedules)} schedules ({ids}); name one by its id")
    for schedule in schedules:
        if str(schedule.id).startswith(schedule_id.lower()):
            return schedule
    fail(
        f"deployment {full_name} has no schedule {schedule_id!r}; "
        f"see `headrace deployment schedule ls {full_name}`"
    )


@app.command("ls")
def ls(full_name: NameArgument, as_json: JsonOption = False) -> None:
    """List the schedules of a deployment."""
    with api() as client:
        schedules = _schedules(client, read_by_full_name(client, full_name))
    if as_json:
        print_json(schedules)
        return
    table(
        ["ID", "Schedule", "Parameters", "Active"],
        [(s.id, describe(s.schedule), s.parameters or "", _status(s)) for s in schedules],
    )


def _status(schedule: DeploymentSchedule) -> str:
    """`yes`, `paused`, or why the scheduler skips it."""
    if schedule.error is not None:
        return f"errored: {schedule.error}"
    return "yes" if schedule.active else "paused"


@app.command("create")
def create(
    full_name: NameArgument,
    cron: Annotated[
        str | None, typer.Option(help=f"Cron expression, e.g. '{CRON_EXAMPLE}'.")
    ] = None,
    interval: Annotated[float | None, typer.Option(help="Every this many seconds.")] = None,
    rrule: Annotated[
        str | None, typer.Option(help="iCalendar RRULE, e.g. 'FREQ=DAILY;BYHOUR=6'.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone, e.g. Europe/Paris (default UTC).")
    ] = None,
    anchor_date: Annotated[
        datetime | None, typer.Option(help="Start of an --interval schedule (default 2020-01-01).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Parameter override key=value for this schedule's runs."),
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a schedule: one of --cron, --interval or --rrule."""
    try:
        schedule = schedule_from_options(cron, interval, rrule, timezone, anchor_date)
    except InvalidScheduleOptions as exc:
        fail(f"--{exc}")
    if schedule is None:
        fail(
            "give one of --cron, --interval or --rrule, "
            f"e.g. --cron '{CRON_EXAMPLE}' --timezone Europe/Paris"
        )
    body = DeploymentScheduleCreate(
        schedule=schedule, parameters=parse_params(param), active=not paused
    )
    with api() as client:
        deployment = read_by_full_name(client, full_name)
        created = deployment_schedules.create(client, deployment.id, body)
    if as_json:
        print_json(created)
        return
    console.print(
        f"added schedule {created.id} to {full_name}: {describe(created.schedule)}", markup=False
    )


def _set_active(full_name: str, schedule_id: str | None, active: bool) -> None:
    with api() as client:
        schedule = _pick(client, full_name, schedule_id)
        deployment_schedules.update(client, schedule.id, DeploymentScheduleUpdate(active=active))
    verb = "resumed" if active else "paused"
    console.print(f"{verb} schedule {schedule.id} of {full_name}", markup=False)


@app.command("pause")
def pause(full_name: NameArgument, schedule_id: IdArgument = None) -> None:
    """Pause a schedule: its upcoming runs are removed, no new ones are made."""
    _set_active(full_name, schedule_id, False)


@app.command("resume")
def resume(full_name: NameArgument, schedule_id: IdArgument = None) -> None:
    """Resume a paused schedule from now on (the paused stretch is not caught up)."""
    _set_active(full_name, schedule_id, True)


@app.command("delete")
def delete(full_name: NameArgument, schedule_id: IdArgument = None) -> None:
    """Delete a schedule and its upcoming runs."""
    with api() as client:
        schedule = _pick(client, full_name, schedule_id)
        deployment_schedules.delete(client, schedule.id)
    console.print(f"deleted schedule {schedule.id} of {full_name}", markup=False)
