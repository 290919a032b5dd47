"""Helpers of the hosts tests: trigger runs of the RECORD_FLOW deployment, read them, wait."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its worker) counts as stopped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def trigger(http: httpx.Client, stack: Any, n: int, **parameters: Any) -> str:
    made = http.post(
        "/deployments/name/record/d/runs",
        json={"parameters": {"ledger": str(stack.ledger_path), "n": n, **parameters}},
    )
    made.raise_for_status()
    run_id: str = made.json()["id"]
    return run_id


def started_on(stack: Any, run_id: str, host: str) -> dict[str, Any] | None:
    for entry in stack.ledger():
        if entry["run"] == run_id and entry["host"] == host and entry["event"] == "start":
            return entry
    return None


def state_of(http: httpx.Client, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = http.get(f"/flow_runs/{run_id}").json()
    return run
