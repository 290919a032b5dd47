"""`POST /api/flow_runs/{id}/pause` and `/resume` on a real server: what a paused run records,
how a resume's input is checked, and what a pause that timed out becomes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from headrace_service.db import Database, create_engine
from headrace_service.loops import pause_expiry

SCHEMA = {
    "type": "object",
    "properties": {"approver": {"type": "string"}, "count": {"type": "integer", "default": 1}},
    "required": ["approver"],
}


def _running(http: httpx.Client) -> str:
    made = http.post("/flow_runs", json={"flow_name": "paused", "state": {"type": "RUNNING"}})
    assert made.status_code == 201, made.text
    run_id: str = made.json()["id"]
    return run_id


def _pause(http: httpx.Client, run_id: str, **body: Any) -> httpx.Response:
    return http.post(
        f"/flow_runs/{run_id}/pause", json={"pause_key": "1", "timeout_seconds": 600, **body}
    )


def test_a_resume_is_checked_against_the_stored_schema_and_remembered_by_key(
    http: httpx.Client,
) -> None:
    run_id = _running(http)
    paused = _pause(http, run_id, run_input_schema=SCHEMA)
    assert paused.status_code == 200, paused.text
    assert paused.json()["outcome"] == "paused"
    run = http.get(f"/flow_runs/{run_id}").json()
    assert (run["state_type"], run["state_name"]) == ("PAUSED", "Paused")
    details = run["states"][-1]["data"]
    assert details["run_input_schema"] == SCHEMA
    assert details["input_order"] == ["approver", "count"]

    bad = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"count": "two"}})
    assert bad.status_code == 422
    assert "body.run_input.approver: missing" in bad.text
    assert "body.run_input.count: 'two' is not of type 'integer'" in bad.text
    extra = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"approver": 3}})
    assert extra.status_code == 422 and "body.run_input.approver" in extra.text
    assert http.get(f"/flow_runs/{run_id}").json()["state_name"] == "Paused"

    good = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"approver": "ann"}})
    assert good.status_code == 200, good.text
    assert good.json()["state_name"] == "Running"
    # The same pause key again (the flow asking after its wait): resumed, with the input.
    again = _pause(http, run_id, run_input_schema=SCHEMA)
    assert again.json()["outcome"] == "resumed"
    assert again.json()["run_input"] == {"approver": "ann"}
    assert http.get(f"/flow_runs/{run_id}").json()["state_name"] == "Running"

    twice = http.post(f"/flow_runs/{run_id}/resume", json={})
    assert twice.status_code == 409 and "not paused" in twice.text


def test_input_for_a_pause_that_waits_for_none_and_a_bad_schema_are_422(
    http: httpx.Client,
) -> None:
    run_id = _running(http)
    bad_schema = _pause(http, run_id, run_input_schema={"type": "nonsense"})
    assert bad_schema.status_code == 422 and "body.run_input_schema" in bad_schema.text
    assert _pause(http, run_id).status_code == 200
    unexpected = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"x": 1}})
    assert unexpected.status_code == 422 and "waits for no input" in unexpected.text
    assert http.post(f"/flow_runs/{run_id}/resume", json={}).json()["state_name"] == "Running"


def test_a_suspended_run_resumed_too_late_ends_failed(http: httpx.Client) -> None:
    run_id = _running(http)
    suspended = _pause(http, run_id, timeout_seconds=0.2, reschedule=True)
    assert suspended.json()["run"]["state_name"] == "Suspended"
    time.sleep(0.4)
    late = http.post(f"/flow_runs/{run_id}/resume", json={})
    assert late.status_code == 409 and "timed out" in late.text
    run = http.get(f"/flow_runs/{run_id}").json()
    assert run["state_type"] == "FAILED"
    assert "suspended and not resumed in time" in run["state_message"]


def test_a_resumed_suspended_run_waits_for_a_worker(http: httpx.Client) -> None:
    run_id = _running(http)
    _pause(http, run_id, reschedule=True)
    resumed = http.post(f"/flow_runs/{run_id}/resume", json={})
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["state_type"], resumed.json()["state_name"]) == (
        "SCHEDULED",
        "Resuming",
    )


def test_a_suspended_run_is_cancelled_at_once(http: httpx.Client) -> None:
    run_id = _running(http)
    _pause(http, run_id, reschedule=True)
    cancelled = http.post(f"/flow_runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state_type"] == "CANCELLED"


def test_the_pause_expiry_loop_fails_runs_nobody_resumed_in_time(
    http: httpx.Client, database_url: str
) -> None:
    suspended = _running(http)
    _pause(http, suspended, timeout_seconds=60, reschedule=True)
    paused = _running(http)
    _pause(http, paused, timeout_seconds=60)
    now = datetime.now(UTC)

    async def expire(at: datetime) -> int:
        db = Database(create_engine(database_url, pool_size=1, pool_timeout=10))
        try:
            return await pause_expiry.run_once(db, at, grace_seconds=30)
        finally:
            await db.dispose()

    assert asyncio.run(expire(now + timedelta(seconds=30))) == 0  # neither timed out yet
    # Past the timeout: the Suspended run fails; the Paused one is its process's to fail...
    assert asyncio.run(expire(now + timedelta(seconds=70))) == 1
    run = http.get(f"/flow_runs/{suspended}").json()
    assert run["state_type"] == "FAILED"
    assert run["state_message"] == "suspended and not resumed in time (its pause timed out)"
    assert run["states"][-2]["name"] == "Suspended"
    assert http.get(f"/flow_runs/{paused}").json()["state_name"] == "Paused"
    # ...unless that process is gone: it fails too, after the grace.
    assert asyncio.run(expire(now + timedelta(seconds=100))) == 1
    left = http.get(f"/flow_runs/{paused}").json()
    assert left["state_type"] == "FAILED" and "its process did not end" in left["state_message"]
