"""Global concurrency and rate limits: `concurrency(...)` and `rate_limit(...)` from the SDK
against a real server, real threads and a real SIGKILLed process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from headrace.cli.main import app
from headrace.client import HeadraceClient
from headrace.concurrency import asyncio as async_concurrency
from headrace.concurrency.sync import (
    ConcurrencySlotAcquisitionError,
    concurrency,
    rate_limit,
)
from headrace_service.db import libpq_url
from tests.conftest import LiveServer


def make_limit(client: HeadraceClient, name: str, limit: int, **body: object) -> None:
    response = client.request(
        "POST", "/global_concurrency_limits", json={"name": name, "limit": limit, **body}
    )
    assert response.status_code == 201


def limit_state(client: HeadraceClient, name: str) -> dict[str, object]:
    state: dict[str, object] = client.get_json(f"/global_concurrency_limits/{name}")
    return state


def test_never_more_holders_than_the_limit_and_slots_come_back(client: HeadraceClient) -> None:
    make_limit(client, "warehouse", 2)
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    def load() -> None:
        with concurrency("warehouse", occupy=1):
            with lock:
                running["now"] += 1
                running["max"] = max(running["max"], running["now"])
            time.sleep(0.1)
            with lock:
                running["now"] -= 1

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert running["max"] == 2
    state = limit_state(client, "warehouse")
    assert state["active_slots"] == 0 and state["waiting"] == 0


def test_waiters_are_served_in_the_order_they_came(client: HeadraceClient) -> None:
    make_limit(client, "db", 1)
    served: list[int] = []
    release_first = threading.Event()

    def first() -> None:
        with concurrency("db"):
            served.append(0)
            release_first.wait(30)

    def later(i: int) -> None:
        with concurrency("db"):
            served.append(i)
            time.sleep(0.05)

    holder = threading.Thread(target=first)
    holder.start()
    while not served:
        time.sleep(0.01)
    waiters = []
    for i in range(1, 6):
        thread = threading.Thread(target=later, args=(i,))
        thread.start()
        waiters.append(thread)
        # Each has asked (and queued) before the next arrives.
        deadline = time.monotonic() + 10
        while limit_state(client, "db")["waiting"] != i and time.monotonic() < deadline:
            time.sleep(0.01)
    release_first.set()
    for thread in [holder, *waiters]:
        thread.join(timeout=60)
    assert served == [0, 1, 2, 3, 4, 5]


def test_strict_timeouts_and_requests_above_the_limit(client: HeadraceClient) -> None:
    ran = []
    with concurrency("no-such-limit"):  # not strict: runs without a limit
        ran.append(1)
    assert ran == [1]
    with (
        pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"),
        concurrency("no-such-limit", strict=True),
    ):
        pass

    make_limit(client, "small", 2)
    with (
        pytest.raises(ConcurrencySlotAcquisitionError, match=r"body\.occupy: 3 slots"),
        concurrency("small", occupy=3, strict=True),
    ):
        pass
    with concurrency("small", occupy=2):
        started = time.monotonic()
        with (
            pytest.raises(TimeoutError, match="timed out"),
            concurrency("small", timeout_seconds=0.5),
        ):
            pass
        assert 0.4 < time.monotonic() - started < 5
    # The one that timed out left the queue.
    assert limit_state(client, "small")["waiting"] == 0

    with pytest.raises(ConcurrencySlotAcquisitionError, match="slot_decay_per_second"):
        rate_limit("small")

    client.request("PATCH", "/global_concurrency_limits/small", json={"active": False})
    with concurrency("small", occupy=2), concurrency("small", occupy=2):
        pass  # disabled: nothing to wait for


def test_rate_limit_paces_callers_by_decay(client: HeadraceClient) -> None:
    make_limit(client, "api-calls", 2, slot_decay_per_second=10.0)
    started = time.monotonic()
    for _ in range(6):
        rate_limit("api-calls")
    # Two at once, then one every 0.1 s: the sixth is taken 0.4 s after the first.
    assert 0.3 < time.monotonic() - started < 5


def test_the_async_form(client: HeadraceClient) -> None:
    make_limit(client, "async-limit", 1)

    async def main() -> list[int]:
        order: list[int] = []

        async def one(i: int) -> None:
            async with async_concurrency.concurrency("async-limit"):
                order.append(i)
                await asyncio.sleep(0.05)
                order.append(i)

        await asyncio.gather(*(one(i) for i in range(3)))
        return order

    order = asyncio.run(main())
    # Never interleaved: each holder's two marks are side by side.
    assert all(order[k] == order[k + 1] for k in range(0, 6, 2))


@pytest.fixture
def server_settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize(
    "server_settings_overrides", [{"global_concurrency_default_limit": 1}], indirect=True
)
def test_a_per_key_limit_is_created_on_first_use(client: HeadraceClient) -> None:
    with concurrency("customer-42"):
        assert limit_state(client, "customer-42")["active_slots"] == 1
    assert limit_state(client, "customer-42")["limit"] == 1


HOLDER_SCRIPT = """
import time
from headrace.concurrency.sync import concurrency

with concurrency("gpu", lease_duration=2):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_sigkilled_holders_slots_come_back_within_the_lease(
    api_url: str, client: HeadraceClient, tmp_path: Path
) -> None:
    make_limit(client, "gpu", 1)
    script = tmp_path / "holder.py"
    script.write_text(HOLDER_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=api_url)
    holder = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        time.sleep(2.5)  # past one lease: the holder's renewals keep the slot
        assert limit_state(client, "gpu")["active_slots"] == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    killed = time.monotonic()
    with concurrency("gpu", timeout_seconds=10):
        waited = time.monotonic() - killed
    assert waited < 2 + 1.5  # the lease, and a little


def test_a_holder_whose_slot_was_lost_is_warned_once(
    live_server: LiveServer, client: HeadraceClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A grant commits without a WAL flush: a database crash can forget it. The holder's next
    renewal renews nothing, and the SDK says the limit may be exceeded (here the slot row is
    deleted by hand, as the crash would have lost it)."""
    make_limit(client, "ledger", 1)
    with (
        caplog.at_level(logging.WARNING, logger="headrace.concurrency"),
        concurrency("ledger", lease_duration=0.9),
    ):
        with psycopg.connect(libpq_url(live_server.database_url), autocommit=True) as conn:
            conn.execute("DELETE FROM global_concurrency_slot")
        time.sleep(1.2)  # several renewals at a third of the lease
    lost = [r for r in caplog.records if "no longer held" in r.getMessage()]
    assert len(lost) == 1
    assert "the limit may be exceeded" in lost[0].getMessage()


def test_a_held_slot_is_renewed_without_a_warning(
    client: HeadraceClient, caplog: pytest.LogCaptureFixture
) -> None:
    make_limit(client, "ledger", 1)
    with (
        caplog.at_level(logging.WARNING, logger="headrace.concurrency"),
        concurrency("ledger", lease_duration=0.9),
    ):
        time.sleep(1.2)
        assert limit_state(client, "ledger")["active_slots"] == 1
    assert not [r for r in caplog.records if "no longer held" in r.getMessage()]


def test_the_gcl_cli(api_url: str, client: HeadraceClient) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["gcl", "create", "etl", "--limit", "3"])
    assert created.exit_code == 0, created.output
    assert "'etl': 3 slots, enabled" in created.output
    taken = runner.invoke(app, ["gcl", "create", "etl", "--limit", "3"])
    assert taken.exit_code == 2 and "exists" in taken.output
    with concurrency("etl", occupy=2):
        listed = json.loads(runner.invoke(app, ["gcl", "ls", "--json"]).output)
        assert [(x["name"], x["active_slots"]) for x in listed] == [("etl", 2)]
        shown = runner.invoke(app, ["global-concurrency-limit", "inspect", "etl"])
        assert "2 slot(s) taken" in shown.output
    updated = runner.invoke(
        app, ["gcl", "update", "etl", "--limit", "5", "--slot-decay-per-second", "0.5"]
    )
    assert "5 slots, 0.5 slot(s)/s decay" in updated.output, updated.output
    assert "disabled" in runner.invoke(app, ["gcl", "disable", "etl"]).output
    assert "enabled" in runner.invoke(app, ["gcl", "enable", "etl"]).output
    assert runner.invoke(app, ["gcl", "delete", "etl"]).exit_code == 0
    missing = runner.invoke(app, ["gcl", "inspect", "etl"])
    assert missing.exit_code == 2 and "no global concurrency limit named 'etl'" in missing.output
