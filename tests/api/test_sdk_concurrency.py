"""Tag concurrency limits: slots held in Postgres with leases, and the CLI that manages them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headrace import flow, tags, task
from headrace.cli.concurrency_limit import app
from headrace.client import HeadraceClient
from headrace.settings import client_settings
from headrace.task_runners import ThreadPoolTaskRunner


def test_a_tag_limit_serialises_task_runs_and_waiting_is_visible(client: HeadraceClient) -> None:
    client.request("POST", "/concurrency_limits", json={"tag": "db", "limit": 1})
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    @task
    def query(i: int) -> int:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.1)
        with lock:
            running["now"] -= 1
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def limited() -> list[int]:
        with tags("db"):
            futures = query.map(range(4))
        return futures.result()

    assert limited() == [0, 1, 2, 3]
    assert running["max"] == 1

    run = client.get_json("/flow_runs", params={"flow_name": "limited"})["items"][0]
    task_runs = client.get_json(f"/flow_runs/{run['id']}/task_runs")
    assert all(t["tags"] == ["db"] for t in task_runs)
    histories = [client.get_json(f"/task_runs/{t['id']}")["states"] for t in task_runs]
    waited = [h for h in histories if any(s["name"] == "AwaitingConcurrencySlot" for s in h)]
    assert waited, "no task run shows that it waited for a slot"
    # All slots are given back at the end.
    assert client.get_json("/concurrency_limits/db")["active_slots"] == 0


def test_a_slot_of_a_dead_holder_comes_back_when_its_lease_expires(
    client: HeadraceClient,
) -> None:
    client.request("POST", "/concurrency_limits", json={"tag": "gpu", "limit": 1})
    # A holder that took the slot and died: it never renews nor releases.
    dead = {"tags": ["gpu"], "holder_id": str(uuid.uuid4()), "lease_seconds": 1.0}
    assert client.request("POST", "/concurrency_slots/acquire", json=dead).json()["acquired"]
    other = {**dead, "holder_id": str(uuid.uuid4())}
    assert client.request("POST", "/concurrency_slots/acquire", json=other).json() == {
        "acquired": False,
        "blocked_by": ["gpu"],
    }

    @task(tags=["gpu"])
    def train() -> str:
        return "trained"

    @flow
    def training() -> str:
        return train()

    started = time.monotonic()
    assert training() == "trained"
    assert 0.5 < time.monotonic() - started < 10


def test_concurrency_limit_cli(api_url: str, client: HeadraceClient) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["create", "api", "3"])
    assert created.exit_code == 0, created.output
    assert "api" in created.output
    listed = runner.invoke(app, ["ls", "--json"])
    assert listed.exit_code == 0
    assert '"limit": 3' in listed.output

    holder = {"tags": ["api"], "holder_id": str(uuid.uuid4()), "lease_seconds": 60}
    client.request("POST", "/concurrency_slots/acquire", json=holder)
    inspected = runner.invoke(app, ["inspect", "api"])
    assert "1 of 3" in inspected.output
    reset = runner.invoke(app, ["reset", "api"])
    assert "Freed 1" in reset.output
    assert client.get_json("/concurrency_limits/api")["active_slots"] == 0

    deleted = runner.invoke(app, ["delete", "api"])
    assert deleted.exit_code == 0
    missing = runner.invoke(app, ["inspect", "api"])
    assert missing.exit_code == 2
    assert "no concurrency limit" in missing.output


HOLDER_SCRIPT = """
import time
from headrace import flow, task

@task(tags=["gpu"])
def hold() -> None:
    print("holding", flush=True)
    time.sleep(600)

@flow
def holder() -> None:
    hold()

holder()
"""


def test_a_sigkilled_holders_slot_comes_back_after_its_lease(
    api_url: str, client: HeadraceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.request("POST", "/concurrency_limits", json={"tag": "gpu", "limit": 1})
    script = tmp_path / "holder.py"
    script.write_text(HOLDER_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=api_url, HEADRACE_CONCURRENCY_SLOT_LEASE_SECONDS="2")
    holder = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        limit = client.request("GET", "/concurrency_limits/gpu").json()
        assert limit["active_slots"] == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)

    monkeypatch.setenv("HEADRACE_CONCURRENCY_SLOT_LEASE_SECONDS", "2")
    client_settings.cache_clear()

    @task(tags=["gpu"])
    def use() -> str:
        return "ran"

    @flow
    def waiter() -> str:
        return use()

    started = time.monotonic()
    assert waiter() == "ran"
    # The dead holder's slot came back once its 2 s lease ran out, not before, not never.
    assert time.monotonic() - started < 10
