"""`headrace work-pool ...`: create, list, inspect, pause, resume, limit and delete work pools."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import PoolNameArgument
from headrace.cli.work_pool_table import COLUMNS, limit_text, row
from headrace.client import work_pools, work_queues, workers
from headrace.pool_types import installed_pool_types, unknown_pool_type_message
from headrace.schemas.work_pools import WorkPool, WorkPoolCreate, WorkPoolUpdate

app = typer.Typer(help=group_help("work-pool"))

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("create")
def create(
    name: PoolNameArgument,
    pool_type: Annotated[
        str, typer.Option("--type", help="An installed pool type (e.g. process).")
    ] = "process",
    concurrency_limit: Annotated[
        int | None, typer.Option(min=0, help="Most runs of the pool at once.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the pool is for.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the settings of an existing pool.")
    ] = False,
) -> None:
    """Create a work pool (with a "default" queue)."""
    if pool_type not in installed_pool_types():
        fail(unknown_pool_type_message(pool_type))
    body = WorkPoolCreate(
        name=name, type=pool_type, concurrency_limit=concurrency_limit, description=description
    )
    with api() as client:
        pool = work_pools.create(client, body, overwrite=overwrite)
    console.print(f"created work pool [bold]{pool.name}[/bold] (type {pool.type})")
    console.print(f"start a worker: headrace worker start --pool {pool.name}", markup=False)


@app.command("ls")
def ls(as_json: JsonOption = False) -> None:
    """List work pools with their workers online and runs waiting."""
    with api() as client:
        pools = work_pools.list_pools(client)
    if as_json:
        print_json(pools)
        return
    table(
        COLUMNS,
        [
            row(p.name, p.type, p.concurrency_limit, p.paused, p.workers_online, p.runs_waiting)
            for p in pools
        ],
    )


@app.command("inspect")
def inspect(name: PoolNameArgument, as_json: JsonOption = False) -> None:
    """Show a pool, its queues and its workers with their last heartbeat."""
    with api() as client:
        pool = work_pools.read(client, name)
        queues = work_queues.list_queues(client, name)
        pool_workers = workers.list_workers(client, name)
    if as_json:
        print_json(
            {
                **pool.model_dump(mode="json"),
                "queues": [q.model_dump(mode="json") for q in queues],
                "workers": [w.model_dump(mode="json") for w in pool_workers],
            }
        )
        return
    status = "paused" if pool.paused else "ready"
    console.print(f"[bold]{pool.name}[/bold]  {pool.id}")
    console.print(
        f"type: {pool.type}   status: {status}   concurrency: "
        f"{limit_text(pool.concurrency_limit)}   runs waiting: {pool.runs_waiting}",
        markup=False,
    )
    if pool.description:
        console.print(f"description: {pool.description}", markup=False)
    table(
        ["Queue", "Priority", "Concurrency", "Paused", "Runs waiting"],
        [
            (
                q.name,
                q.priority,
                limit_text(q.concurrency_limit),
                "yes" if q.paused else "no",
                q.runs_waiting,
            )
            for q in queues
        ],
        title="Queues",
    )
    table(
        ["Worker", "Status", "Last heartbeat"],
        [(w.name, w.status.value, w.last_heartbeat) for w in pool_workers],
        title=f"Workers ({len(pool_workers)})",
    )


def _patch(name: str, body: WorkPoolUpdate) -> WorkPool:
    with api() as client:
        return work_pools.update(client, name, body)


@app.command("pause")
def pause(name: PoolNameArgument) -> None:
    """Stop handing out the pool's runs (running ones go on)."""
    _patch(name, WorkPoolUpdate(paused=True))
    console.print(f"paused work pool {name}", markup=False)


@app.command("resume")
def resume(name: PoolNameArgument) -> None:
    """Hand out the pool's runs again."""
    _patch(name, WorkPoolUpdate(paused=False))
    console.print(f"resumed work pool {name}", markup=False)


@app.command("set-concurrency-limit")
def set_concurrency_limit(
    name: PoolNameArgument,
    limit: Annotated[str, typer.Argument(help="Most runs at once, or 'none' for no limit.")],
) -> None:
    """Limit how many runs of the pool are PENDING or RUNNING at once."""
    value: int | None
    if limit.lower() == "none":
        value = None
    elif limit.isdigit():
        value = int(limit)
    else:
        fail(f"limit {limit!r}: expected a whole number >= 0, or 'none'")
    pool = _patch(name, WorkPoolUpdate(concurrency_limit=value))
    console.print(
        f"work pool {name}: concurrency limit {limit_text(pool.concurrency_limit)}", markup=False
    )


@app.command("delete")
def delete(name: PoolNameArgument) -> None:
    """Delete a pool with its queues; its waiting runs are cancelled."""
    with api() as client:
        work_pools.delete(client, name)
    console.print(f"deleted work pool {name}", markup=False)
