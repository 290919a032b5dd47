"""`headrace work-pool`, `work-queue`, `deployment` and `flow-run cancel` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx


def cli(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADRACE_API_URL": api_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def ok(api_url: str, *args: str) -> str:
    done = cli(api_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_work_pool_commands(api_url: str, http: httpx.Client) -> None:
    assert "created work pool" in ok(api_url, "work-pool", "create", "--type", "process", "nightly")
    again = cli(api_url, "work-pool", "create", "nightly")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    ok(api_url, "work-pool", "create", "nightly", "--overwrite", "--concurrency-limit", "4")
    unknown = cli(api_url, "work-pool", "create", "--type", "kubernetes", "x")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0 and "process" in unknown.stderr
    listing = ok(api_url, "work-pool", "ls")
    assert "nightly" in listing and "process" in listing
    http.post("/work_pools/nightly/workers/heartbeat", json={"name": "host-a"})
    inspected = ok(api_url, "work-pool", "inspect", "nightly")
    assert "host-a" in inspected and "ONLINE" in inspected and "default" in inspected
    ok(api_url, "work-pool", "pause", "nightly")
    assert json.loads(ok(api_url, "work-pool", "ls", "--json"))[0]["paused"] is True
    ok(api_url, "work-pool", "resume", "nightly")
    ok(api_url, "work-pool", "set-concurrency-limit", "nightly", "none")
    pool = json.loads(ok(api_url, "work-pool", "inspect", "nightly", "--json"))
    assert pool["paused"] is False and pool["concurrency_limit"] is None
    bad = cli(api_url, "work-pool", "set-concurrency-limit", "nightly", "lots")
    assert bad.returncode == 2 and "whole number" in bad.stderr
    ok(api_url, "work-queue", "create", "urgent", "--pool", "nightly", "--priority", "1")
    ok(api_url, "work-queue", "pause", "urgent", "--pool", "nightly")
    queues = json.loads(ok(api_url, "work-queue", "ls", "--pool", "nightly", "--json"))
    assert {q["name"]: q["paused"] for q in queues} == {"urgent": True, "default": False}
    ok(api_url, "work-queue", "resume", "urgent", "--pool", "nightly")
    ok(api_url, "work-pool", "delete", "nightly")
    missing = cli(api_url, "work-pool", "inspect", "nightly")
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_deployment_commands_and_cancel(api_url: str, http: httpx.Client) -> None:
    http.post("/work_pools", json={"name": "p"})
    deployment: dict[str, Any] = {
        "flow_name": "etl",
        "name": "daily",
        "entrypoint": "flows/etl.py:etl",
        "path": "/srv/code",
        "work_pool_name": "p",
        "parameters": {"day": "2026-11-24"},
    }
    assert http.post("/deployments", json=deployment).status_code == 201
    assert "etl/daily" in ok(api_url, "deployment", "ls")
    assert "flows/etl.py:etl" in ok(api_url, "deployment", "inspect", "etl/daily")
    run_id = ok(
        api_url, "deployment", "run", "etl/daily", "--param", "day=2026-11-25", "--param", "n=3"
    ).strip()
    run = http.get(f"/flow_runs/{run_id}").json()
    assert run["parameters"] == {"day": "2026-11-25", "n": 3}
    assert run["state_type"] == "SCHEDULED"
    assert "Cancelled" in ok(api_url, "flow-run", "cancel", run_id)
    ok(api_url, "deployment", "pause", "etl/daily")
    assert http.get("/deployments/name/etl/daily").json()["paused"] is True
    ok(api_url, "deployment", "resume", "etl/daily")
    no_slash = cli(api_url, "deployment", "run", "daily")
    assert no_slash.returncode == 2 and "FLOW/NAME" in no_slash.stderr
    ok(api_url, "deployment", "delete", "etl/daily")
    gone = cli(api_url, "deployment", "inspect", "etl/daily")
    assert gone.returncode == 2 and "not found" in gone.stderr
