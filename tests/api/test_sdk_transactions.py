"""Transactions against a real server: tasks completed inside `with transaction():` commit
together when it ends well, and are rolled back (their on_rollback hooks run last to first; their
runs show RolledBack) when it fails. `grouped` was checked once against Prefect 3.9 running the
same flow: the same hook order and the same task run states."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from headrace import flow, task
from headrace.client import HeadraceClient
from headrace.errors import NotFound
from headrace.transactions import Transaction, get_transaction, transaction

LOG: list[str] = []


@task(persist_result=True)
def write(x: int) -> int:
    LOG.append(f"write {x}")
    return x


@write.on_commit
def committed(txn: Transaction) -> None:
    LOG.append(f"commit {txn.get('batch', 'alone')}")


@write.on_rollback
def undo(txn: Transaction) -> None:
    LOG.append(f"rollback {txn.get('batch')}")


@task
def check(ok: bool) -> bool:
    LOG.append(f"check in transaction: {get_transaction() is not None}")
    if not ok:
        raise ValueError("bad data")
    return ok


@task
async def acheck(ok: bool) -> bool:
    return check.fn(ok)


def task_states(client: HeadraceClient, flow_name: str) -> list[tuple[str, str, str]]:
    run = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"][0]
    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    return sorted((t["name"], t["state_type"], t["state_name"]) for t in task_runs)


@flow
def grouped(ok: bool) -> str:
    with transaction() as txn:
        txn.set("batch", "b1")
        write(1)
        write.submit(2).wait()
        check(ok)
    write(3)  # outside: commits on its own, at once
    write.submit(4).result()  # the future is done once its commit hooks ran
    return "end"


def test_a_transaction_that_ends_well_commits_its_tasks_in_order(client: HeadraceClient) -> None:
    LOG.clear()
    assert grouped(True) == "end"
    assert LOG == [
        "write 1",
        "write 2",
        "check in transaction: True",
        "commit b1",
        "commit b1",
        "write 3",
        "commit alone",  # no enclosing transaction: it commits as soon as it completes
        "write 4",
        "commit alone",
    ]
    assert task_states(client, "grouped") == [
        ("check-0", "COMPLETED", "Completed"),
        ("write-0", "COMPLETED", "Completed"),
        ("write-1", "COMPLETED", "Completed"),
        ("write-2", "COMPLETED", "Completed"),
        ("write-3", "COMPLETED", "Completed"),
    ]


def test_a_failure_rolls_back_the_tasks_completed_in_the_transaction(
    client: HeadraceClient,
) -> None:
    LOG.clear()
    state = grouped(False, return_state=True)  # type: ignore[call-arg]
    assert state.is_failed() and "bad data" in (state.message or "")
    assert LOG == [
        "write 1",
        "write 2",
        "check in transaction: True",
        "rollback b1",
        "rollback b1",
    ]
    assert task_states(client, "grouped") == [
        ("check-0", "FAILED", "Failed"),
        ("write-0", "COMPLETED", "RolledBack"),
        ("write-1", "COMPLETED", "RolledBack"),
    ]
    # As in Prefect, a rolled-back run leaves no result: a new run is not served it from cache.
    run = client.get_json("/flow_runs", params={"flow_name": "grouped"})["items"][0]
    for task_run in client.get_json(f"/flow_runs/{run['id']}/task_runs"):
        if task_run["state_name"] == "RolledBack":
            history = client.get_json(f"/task_runs/{task_run['id']}")["states"]
            key = next(s["data"]["result_key"] for s in history if s["name"] == "Completed")
            with pytest.raises(NotFound):
                client.get_json(f"/results/{key}")


def test_async_flow_rollback_runs_hooks_last_to_first(client: HeadraceClient) -> None:
    order: list[str] = []

    @task(on_rollback=[lambda txn: order.append(f"undo {txn.get('n')}")])
    async def step(n: int) -> int:
        return n

    @flow
    async def async_grouped() -> None:
        with transaction() as txn:
            for n in (1, 2, 3):
                txn.set("n", n)
                await step(n)
            await acheck(False)

    with pytest.raises(ValueError, match="bad data"):
        asyncio.run(async_grouped())
    # Each hook sees the value as the block left it: the last one set.
    assert order == ["undo 3", "undo 3", "undo 3"]
    assert [s[2] for s in task_states(client, "async-grouped")] == [
        "Failed",
        "RolledBack",
        "RolledBack",
        "RolledBack",
    ]


def test_nested_transactions_commit_with_the_outer_one_and_hooks_may_fail(
    client: HeadraceClient,
) -> None:
    seen: list[str] = []

    def broken_hook(txn: Any) -> None:
        seen.append("broken")
        raise RuntimeError("hook bug")

    async def async_hook(txn: Any) -> None:
        await asyncio.sleep(0)
        seen.append("async hook")

    @task(on_commit=[async_hook, broken_hook, lambda txn: seen.append("never")])
    def inner_step() -> int:
        return 1

    @inner_step.on_rollback
    def undo_inner(txn: Any) -> None:
        seen.append("undone")

    @flow
    def nested() -> list[str]:
        with transaction():
            with transaction():
                inner_step()
            seen.append("inner block ended")
        return seen

    # As in Prefect 3.9: the raising commit hook stops the commit; the rollback hooks run.
    assert nested() == ["inner block ended", "async hook", "broken", "undone"]
    assert task_states(client, "nested") == [("inner_step-0", "COMPLETED", "RolledBack")]

    with pytest.raises(TypeError, match="commit_mode"):
        transaction(commit_mode="EAGER")
