"""`headrace work-queue ...`: the queues of a work pool, which order and limit its runs."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import resource_name
from headrace.client import work_queues
from headrace.schemas.work_pools import WorkQueueCreate, WorkQueueUpdate

app = typer.Typer(help=group_help("work-queue"))

PoolOption = Annotated[
    str, typer.Option("--pool", help="The work pool of the queue.", callback=resource_name)
]
QueueNameArgument = Annotated[
    str, typer.Argument(help="The queue's name.", callback=resource_name, show_default=False)
]


@app.command("create")
def create(
    name: QueueNameArgument,
    pool: PoolOption,
    priority: Annotated[int, typer.Option(min=1, help="1 runs first; higher waits.")] = 1,
    concurrency_limit: Annotated[
        int | None, typer.Option(min=0, help="Most runs of the queue at once.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the queue is for.")] = None,
) -> None:
    """Create a queue in a work pool."""
    body = WorkQueueCreate(
        name=name, priority=priority, concurrency_limit=concurrency_limit, description=description
    )
    with api() as client:
        queue = work_queues.create(client, pool, body)
    console.print(
        f"created work queue {queue.name} in pool {queue.work_pool_name} "
        f"(priority {queue.priority})",
        markup=False,
    )


@app.command("ls")
def ls(
    pool: PoolOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the queues of a pool, most urgent first."""
    with api() as client:
        queues = work_queues.list_queues(client, pool)
    if as_json:
        print_json(queues)
        return
    table(
        ["Name", "Priority", "Concurrency", "Paused", "Runs waiting"],
        [
            (
                q.name,
                q.priority,
                "unlimited" if q.concurrency_limit is None else q.concurrency_limit,
                "yes" if q.paused else "no",
                q.runs_waiting,
            )
            for q in queues
        ],
    )


def _set_paused(name: str, pool: str, paused: bool) -> None:
    with api() as client:
        work_queues.update(client, pool, name, WorkQueueUpdate(paused=paused))
    console.print(
        f"{'paused' if paused else 'resumed'} work queue {name} of pool {pool}", markup=False
    )


@app.command("pause")
def pause(name: QueueNameArgument, pool: PoolOption) -> None:
    """Stop handing out the queue's runs."""
    _set_paused(name, pool, True)


@app.command("resume")
def resume(name: QueueNameArgument, pool: PoolOption) -> None:
    """Hand out the queue's runs again."""
    _set_paused(name, pool, False)
