"""`headrace flow-run ...`: list, inspect, read the logs of, cancel and resume flow runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headrace.cli.common import api
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, state_text, table, timestamp
from headrace.cli.params import parse_params
from headrace.client import flow_runs
from headrace.client import logs as run_logs
from headrace.client import task_runs as run_task_runs
from headrace.schemas.flow_runs import FlowRun, FlowRunQuery
from headrace.schemas.logs import LogQuery

app = typer.Typer(help=group_help("flow-run"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


@app.command("ls")
def ls(
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only these state types, e.g. FAILED,CRASHED.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List flow runs, newest first."""
    with api() as client:
        query = FlowRunQuery(flow_name=flow, state_type=state, limit=limit)
        page = flow_runs.list_runs(client, query)
    if as_json:
        print_json(page.items)
        return
    table(
        ["ID", "Name", "Flow", "State", "Started", "Ended"],
        [
            (
                r.id,
                r.name,
                r.flow_name,
                state_text(r.state_type.value, r.state_name),
                r.start_time,
                r.end_time,
            )
            for r in page.items
        ],
    )


@app.command("inspect")
def inspect(run_id: str, as_json: JsonOption = False) -> None:
    """Show a run: parameters, state history and task runs."""
    with api() as client:
        run = flow_runs.read(client, run_id)
        task_runs = run_task_runs.of_flow_run(client, run_id)
    if as_json:
        print_json(
            {
                **run.model_dump(mode="json"),
                "task_runs": [t.model_dump(mode="json") for t in task_runs],
            }
        )
        return
    _print_run(run)
    _print_result(run.states[-1].data if run.states else None)
    table(
        ["Time", "State", "Message"],
        [(s.timestamp, state_text(s.type.value, s.name), s.message or "") for s in run.states],
        title="State history",
    )
    table(
        ["Task run", "State", "Attempts", "Started", "Ended"],
        [
            (
                t.name,
                state_text(t.state_type.value, t.state_name),
                t.run_count,
                t.start_time,
                t.end_time,
            )
            for t in task_runs
        ],
        title=f"Task runs ({len(task_runs)})",
    )


def _print_run(run: FlowRun) -> None:
    console.print(f"[bold]{run.name}[/bold]  {run.id}")
    console.print(
        f"flow: {run.flow_name}   state: {state_text(run.state_type.value, run.state_name)}"
        f"   attempts: {run.run_count}"
    )
    if run.deployment_name:
        console.print(f"deployment: {run.deployment_name}   pool: {run.work_pool_name or ''}")
    console.print(f"started: {timestamp(run.start_time)}   ended: {timestamp(run.end_time)}")
    if run.state_message:
        console.print(f"message: {run.state_message}", markup=False)
    console.print(f"parameters: {run.parameters}", markup=False)


def _print_result(data: dict[str, Any] | None) -> None:
    """The final state's result: its summary kept on the state, and where it is stored."""
    if not data:
        return
    if "result" in data:
        console.print(f"result: {data['result']!r}", markup=False)
    if "result_key" in data:
        where = data.get("result_storage", "the headrace API")
        console.print(
            f"result stored: key {data['result_key']} in {where} ({data.get('serializer')}); "
            "read it with State.result()",
            markup=False,
        )


@app.command("logs")
def logs(
    run_id: str,
    level: Annotated[int, typer.Option(help="Minimum level (10 debug ... 50 critical).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Print a run's log lines."""
    lines = []
    after: int | None = None
    with api() as client:
        while True:
            page = run_logs.of_flow_run(
                client, run_id, LogQuery(after=after, level=level, limit=5000)
            )
            lines.extend(page.items)
            if len(page.items) < 5000:
                break
            after = page.next_after
    if as_json:
        print_json(lines)
        return
    for line in lines:
        stamp = timestamp(line.timestamp)
        console.print(
            f"{stamp} {LEVELS.get(line.level, line.level):<8} {line.message}",
            markup=False,
            highlight=False,
        )


@app.command("retry")
def retry(
    run_id: str,
    from_failure: Annotated[
        bool,
        typer.Option(
            "--from-failure",
            help="Do not run again the task runs that completed and whose results are stored.",
        ),
    ] = False,
) -> None:
    """Retry a failed or crashed deployment run: back to Scheduled, a worker runs it again."""
    with api() as client:
        run = flow_runs.retry(client, run_id, from_failure=from_failure)
    console.print(f"{run.name} ({run.id}): {state_text(run.state_type.value, run.state_name)}")


@app.command("cancel")
def cancel(run_id: str) -> None:
    """Cancel a run: a waiting one at once; a running one through its worker (Cancelling)."""
    with api() as client:
        run = flow_runs.cancel(client, run_id)
    console.print(f"{run.name} ({run.id}): {state_text(run.state_type.value, run.state_name)}")


@app.command("resume")
def resume(
    run_id: str,
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            help="A value of the input the paused run waits for, key=value (JSON values "
            "allowed); repeatable.",
        ),
    ] = None,
) -> None:
    """Resume a paused run (Running again) or a suspended one (Scheduled for a worker)."""
    run_input = parse_params(input_, "--input") if input_ else None
    with api() as client:
        run = flow_runs.resume(client, run_id, run_input)
    console.print(f"{run.name} ({run.id}): {state_text(run.state_type.value, run.state_name)}")
