"""`python -m headrace.engine <id>`: a worker's way to run an existing flow run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from headrace.client import HeadraceClient
from tests.api.conftest import Sql

FLOWS = """
from pathlib import Path
from headrace import flow, task

@task
def add(x: int, y: int) -> int:
    return x + y

def plain(day: str) -> None:
    Path("ran.txt").write_text(day)

@flow
def etl(day: str, n: int = 1) -> int:
    Path("ran.txt").write_text(day)
    if day == "bad":
        raise RuntimeError("bad day")
    return add(n, 1)
"""


@pytest.fixture
def deployment(client: HeadraceClient, tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    client.request("POST", "/work_pools", json={"name": "local", "type": "process"})
    body = {
        "flow_name": "etl",
        "name": "daily",
        "entrypoint": "flows.py:etl",
        "path": str(tmp_path),
        "parameters": {"n": 2},
        "work_pool_name": "local",
    }
    created: dict[str, Any] = client.request("POST", "/deployments", json=body).json()
    return created


def run_engine(
    api_url: str, run_id: str, cwd: Path, **more_env: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADRACE_API_URL": api_url, **more_env}
    return subprocess.run(
        [sys.executable, "-m", "headrace.engine", run_id],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def new_run(client: HeadraceClient, deployment: dict[str, Any], day: str) -> str:
    run = client.request(
        "POST", f"/deployments/{deployment['id']}/runs", json={"parameters": {"day": day}}
    ).json()
    return str(run["id"])


def test_runs_an_existing_run_and_exits_with_its_outcome(
    api_url: str, client: HeadraceClient, deployment: dict[str, Any], tmp_path: Path
) -> None:
    good = new_run(client, deployment, "2026-11-24")
    done = run_engine(api_url, good, tmp_path)
    assert done.returncode == 0, done.stderr
    run = client.get_json(f"/flow_runs/{good}")
    assert run["state_type"] == "COMPLETED"
    assert [s["name"] for s in run["states"]][-2:] == ["Running", "Completed"]
    tasks = client.get_json(f"/flow_runs/{good}/task_runs")
    assert [t["name"] for t in tasks] == ["add-0"]
    # No second run was created: the engine ran the existing one.
    assert len(client.get_json("/flow_runs", params={"flow_name": "etl"})["items"]) == 1

    bad = new_run(client, deployment, "bad")
    failed = run_engine(api_url, bad, tmp_path)
    assert failed.returncode == 1
    assert client.get_json(f"/flow_runs/{bad}")["state_message"].startswith("RuntimeError: bad day")


def test_the_runs_own_deployment_decides_what_runs_whatever_deployment_the_worker_named(
    api_url: str, client: HeadraceClient, deployment: dict[str, Any], tmp_path: Path
) -> None:
    # A worker names the claimed run's deployment so that it is read beside the run; a name
    # that is not the run's deployment (here another one, whose entrypoint is no flow) is
    # not what runs.
    other = client.request(
        "POST",
        "/deployments",
        json={
            "flow_name": "etl",
            "name": "plain",
            "entrypoint": "flows.py:plain",
            "path": str(tmp_path),
            "work_pool_name": "local",
        },
    ).json()
    run_id = new_run(client, deployment, "2026-11-26")
    done = run_engine(api_url, run_id, tmp_path, HEADRACE_DEPLOYMENT_ID=other["id"])
    assert done.returncode == 0, done.stderr
    run = client.get_json(f"/flow_runs/{run_id}")
    assert (run["state_type"], run["parameters"]) == ("COMPLETED", {"n": 2, "day": "2026-11-26"})
    # Named right, it runs the same.
    run_id = new_run(client, deployment, "2026-11-27")
    done = run_engine(api_url, run_id, tmp_path, HEADRACE_DEPLOYMENT_ID=deployment["id"])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran.txt").read_text() == "2026-11-27"


def test_a_refused_start_runs_nothing_and_exits_non_zero(
    api_url: str, client: HeadraceClient, deployment: dict[str, Any], tmp_path: Path
) -> None:
    run_id = new_run(client, deployment, "2026-11-25")
    client.request("POST", f"/flow_runs/{run_id}/set_state", json={"state": {"type": "CANCELLED"}})
    done = run_engine(api_url, run_id, tmp_path)
    assert done.returncode == 2
    assert "not started" in done.stderr
    assert not (tmp_path / "ran.txt").exists()
    assert client.get_json(f"/flow_runs/{run_id}")["state_type"] == "CANCELLED"


@pytest.mark.parametrize(
    ("entrypoint", "parameters", "refusal"),
    [
        (
            "flows.py:plain",
            {"day": "x"},
            "is not a flow (a plain function); decorate the function with @flow",
        ),
        # A deployment stored before the API refused the standard library: nothing is imported.
        ("os:system", {"command": "touch ran.txt"}, "names the standard-library module 'os'"),
        ("flows.py:Path", {"day": "x"}, "is not a flow (a type)"),
    ],
)
def test_an_entrypoint_that_is_not_a_flow_is_never_called(
    api_url: str,
    client: HeadraceClient,
    deployment: dict[str, Any],
    tmp_path: Path,
    sql: Sql,
    entrypoint: str,
    parameters: dict[str, str],
    refusal: str,
) -> None:
    sql.execute(
        "UPDATE deployment SET entrypoint = :e, parameters = '{}' WHERE id = :id",
        e=entrypoint,
        id=deployment["id"],
    )
    run = client.request(
        "POST", f"/deployments/{deployment['id']}/runs", json={"parameters": parameters}
    ).json()
    done = run_engine(api_url, str(run["id"]), tmp_path)
    assert done.returncode == 2
    assert refusal in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "ran.txt").exists()
