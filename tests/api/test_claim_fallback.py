"""With LISTEN/NOTIFY off, a waiting claim still finds a new run by polling; the reaper loop
runs inside the server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.conftest import WaitingClaim


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {
        "listen_notify": False,
        "claim_fallback_poll_seconds": 0.3,
        "lease_seconds": 1.0,
        "reaper_interval_seconds": 0.2,
    }


def test_a_waiting_claim_polls_when_notify_is_off(queue_api: Any, api_url: str) -> None:
    queue_api.pool("p")
    deployment = queue_api.deploy("p")
    worker_id = queue_api.heartbeat("p")["worker_id"]
    waiter = WaitingClaim(api_url, worker_id)
    time.sleep(0.5)
    created = time.monotonic()
    run = queue_api.run(deployment)
    assert waiter.run_ids() == [run["id"]]
    assert waiter.returned - created < 2.0  # one poll interval (0.3 s), loosely


def test_the_servers_reaper_loop_crashes_a_run_whose_worker_vanished(queue_api: Any) -> None:
    queue_api.pool("p")
    run = queue_api.run(queue_api.deploy("p"))
    worker_id = queue_api.heartbeat("p")["worker_id"]
    queue_api.claim("p", worker_id)  # ...and never heartbeats again (lease: 1 s)
    deadline = time.monotonic() + 10
    while queue_api.run_state(run["id"])["state_type"] != "CRASHED":
        assert time.monotonic() < deadline, "the reaper loop did not crash the run"
        time.sleep(0.1)
