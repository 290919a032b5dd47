"""The Prefect 3 features of futures, caching, results and transactions with task runs in other
processes (`ProcessPoolTaskRunner`), against a real server."""

from __future__ import annotations

import importlib
import json
import os
import textwrap
from pathlib import Path

import pytest

from headrace import ProcessPoolTaskRunner, flow
from headrace.client import HeadraceClient
from headrace.transactions import transaction

# Imported by name in the pool's processes: a module on the path they inherit.
REMOTE = """
import dataclasses
import os
from headrace import task

ROLLED_BACK = []


@dataclasses.dataclass
class Box:
    item: object


@task(persist_result=True)
def double(x: int) -> int:
    return x * 2


@task
def unbox(box: Box) -> int:
    return box.item + 1


@task(result_storage={folder!r}, result_storage_key="stored-{{parameters[x]}}.json")
def stored(x: int) -> dict:
    return {{"x": x, "pid": os.getpid()}}


@task(on_rollback=[lambda txn: ROLLED_BACK.append(txn.key)], persist_result=True)
def step(x: int) -> int:
    return x


@task
def fail() -> None:
    raise ValueError("step 2 broke")
"""


def test_process_pool_runs_resolve_cache_store_and_roll_back(
    client: HeadraceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "results"
    (tmp_path / "compat_remote.py").write_text(textwrap.dedent(REMOTE.format(folder=str(folder))))
    monkeypatch.syspath_prepend(str(tmp_path))
    remote = importlib.import_module("compat_remote")

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pooled() -> tuple[int, int, int, dict[str, int]]:
        first = remote.double.submit(2)
        again = remote.double.submit(2, wait_for=[first])  # after it: a DEFAULT cache hit
        unboxed = remote.unbox.submit(remote.Box(first))  # a future in a dataclass
        kept = remote.stored.submit(3)
        try:
            with transaction():
                remote.step.submit(1).wait()
                remote.fail.submit().result()
        except ValueError:
            pass
        return first.result(), again.result(), unboxed.result(), kept.result()

    first, again, unboxed, kept = pooled()
    assert (first, again, unboxed) == (4, 4, 5)
    assert kept["x"] == 3 and kept["pid"] != os.getpid()
    envelope = json.loads((folder / "stored-3.json").read_text())
    assert envelope["metadata"]["serializer"] == {"type": "json"}
    assert len(remote.ROLLED_BACK) == 1  # the hook ran on the flow's side, with its key

    run = client.get_json("/flow_runs", params={"flow_name": "pooled"})["items"][0]
    assert run["state_type"] == "COMPLETED"
    states = {
        t["name"]: t["state_name"] for t in client.get_json(f"/flow_runs/{run['id']}/task_runs")
    }
    assert states == {
        "double-0": "Completed",
        "double-1": "Cached",
        "unbox-0": "Completed",
        "stored-0": "Completed",
        "step-0": "RolledBack",
        "fail-0": "Failed",
    }
