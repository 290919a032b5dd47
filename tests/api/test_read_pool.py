"""A run's read has a pool of its own: writes that hold every connection of the main pool (flows
logging at full speed) do not make it wait for one."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import Sql


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The main pool's one connection is taken below by a write that waits for a row lock.
    return {"db_pool_size": 1, "db_pool_timeout_seconds": 1.0}


def wait_for_a_lock_wait(sql: Sql, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = sql.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"no request waited for the row lock within {timeout} s")


def test_a_run_is_read_while_a_write_holds_the_whole_main_pool(
    http: httpx.Client, api_url: str, sql: Sql
) -> None:
    run = http.post("/flow_runs", json={"flow_name": "etl"}).json()
    renamed: list[int] = []

    def rename() -> None:
        with httpx.Client(base_url=api_url, timeout=30) as other:
            answer = other.patch(f"/flow_runs/{run['id']}", json={"name": "renamed"})
            renamed.append(answer.status_code)

    with sql.engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM flow_run WHERE id = :id FOR UPDATE"), {"id": run["id"]})
        writer = threading.Thread(target=rename)
        writer.start()
        wait_for_a_lock_wait(sql)  # the rename now holds the main pool's only connection
        started = time.monotonic()
        read = http.get(f"/flow_runs/{run['id']}")
        took = time.monotonic() - started
        listed = http.get("/flow_runs")
        holder.commit()
    writer.join(30)

    assert read.status_code == 200, read.text  # through the main pool: a 503 after 1 s
    assert read.json()["name"] == run["name"]  # the rename had not committed yet
    assert took < 1.0, took
    assert listed.status_code == 200, listed.text
    assert renamed == [200]
    assert http.get(f"/flow_runs/{run['id']}").json()["name"] == "renamed"
