"""docker-compose.yml, run for real (podman + podman-compose 1.6): the README's deployment from
the host, three workers draining 100 runs, two API replicas, a restart of Postgres mid-run,
and `down -v` leaving nothing behind. Tests run in file order on one stack."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.client import HeadraceClient, deployments, flow_runs
from headrace.schemas.deployments import DeploymentRunCreate
from tests.containers.stack import IMAGE, ROOT, Stack, run, wait_for

# The first test also waits for the images to be built (minutes on a clean machine).
pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

SLOW_FLOW = """\
import time

from headrace import flow


@flow(log_prints=True)
def slow(seconds: float) -> None:
    time.sleep(seconds)
    print(f"slept {seconds} s")


@flow
def quick(i: int) -> int:
    return i
"""


def readme_example() -> str:
    """The README's `my_script.py`, as a user copies it."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"Save this as\s+`my_script.py`:\s*```python\n(.*?)```", readme, re.S)
    assert found, "README.md no longer shows my_script.py"
    return found.group(1)


def headrace(stack: Stack, api_url: str, *args: str, cwd: Path, timeout: float = 180) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=stack.client_env(api_url),
    )
    assert result.returncode == 0, f"headrace {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folder on the host: the README's flow and two of ours, deployed with --upload
    to the compose worker's pool."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "my_script.py").write_text(readme_example())
    (folder / "more.py").write_text(SLOW_FLOW)
    (url,) = stack.api_urls()
    for entrypoint, name in [
        ("my_script.py:etl", "daily"),
        ("more.py:slow", "slow"),
        ("more.py:quick", "quick"),
    ]:
        headrace(
            stack,
            url,
            "deploy",
            entrypoint,
            "--name",
            name,
            "--pool",
            "default",
            "--upload",
            cwd=folder,
        )
    return folder


def client(stack: Stack) -> HeadraceClient:
    return HeadraceClient(stack.api_urls()[0], api_key=stack.api_key, retries=3)


def test_the_image_runs_as_a_non_root_user(stack: Stack) -> None:
    assert run("podman", "run", "--rm", IMAGE, "id", "-u").strip() == "10001"
    for name in stack.containers("server") + stack.containers("worker"):
        assert run("podman", "exec", name, "id", "-un").strip() == "headrace"


def test_the_readme_flow_runs_in_the_compose_worker_with_its_logs(
    stack: Stack, project: Path
) -> None:
    (url,) = stack.api_urls()
    watched = headrace(
        stack,
        url,
        "deployment",
        "run",
        "etl/daily",
        "--param",
        "day=2026-11-24",
        "--watch",
        cwd=project,
    )
    assert "Completed" in watched
    run_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", watched)
    assert run_id, watched
    logs = headrace(stack, url, "flow-run", "logs", run_id.group(0), cwd=project)
    assert "60 rows for 2026-11-24" in logs


def test_a_run_completes_across_a_restart_of_postgres(stack: Stack, project: Path) -> None:
    with client(stack) as api:
        started = deployments.run_by_name(
            api, "slow", "slow", DeploymentRunCreate(parameters={"seconds": 15})
        )
        wait_for(
            lambda: flow_runs.read(api, started.id).state_type == "RUNNING",
            60,
            "the slow run never started",
        )
    stack.compose("restart", "postgres")
    with client(stack) as api:
        deadline = time.monotonic() + 120
        while (finished := flow_runs.read(api, started.id)).state_type in (
            "SCHEDULED",
            "PENDING",
            "RUNNING",
        ):
            assert time.monotonic() < deadline, f"still {finished.state_name} after the restart"
            time.sleep(1)
    assert finished.state_name == "Completed", finished.state_message


def test_three_workers_drain_100_runs_each_exactly_once(stack: Stack, project: Path) -> None:
    started = time.monotonic()
    stack.compose("up", "-d", "--scale", "worker=3")
    assert len(stack.containers("worker")) == 3
    (url,) = stack.api_urls()
    wait_for(lambda: stack.workers_online(url) >= 3, 120, "three workers never came online")
    stack.timings["scale worker=3 to online"] = time.monotonic() - started
    with client(stack) as api:
        made = [
            deployments.run_by_name(api, "quick", "quick", DeploymentRunCreate(parameters={"i": i}))
            for i in range(100)
        ]
        deadline = time.monotonic() + 300
        done = []
        for flow_run in made:
            while (detail := flow_runs.read(api, flow_run.id)).state_type in (
                "SCHEDULED",
                "PENDING",
                "RUNNING",
            ):
                assert time.monotonic() < deadline, f"{flow_run.id} still {detail.state_name}"
                time.sleep(0.5)
            done.append(detail)
    stack.timings["scale worker=3 + 100 runs done"] = time.monotonic() - started
    assert [run.state_name for run in done] == ["Completed"] * 100
    # Exactly once: each run was started once, by one worker.
    assert all([state.type for state in run.states].count("RUNNING") == 1 for run in done)
    assert all(run.run_count == 1 for run in done)


def test_two_servers_serve_both_ports(stack: Stack) -> None:
    stack.compose("up", "-d", "--scale", "server=2")
    urls = stack.api_urls()
    assert len(urls) == 2 and len(set(urls)) == 2
    for url in urls:
        stack.wait_ready(url)
        with HeadraceClient(url, api_key=stack.api_key) as api:
            assert deployments.read_by_name(api, "etl", "daily").name == "daily"


def test_down_v_leaves_nothing_behind(stack: Stack) -> None:
    # podman-compose 1.6 forgets scaled replicas, in `down` as in scaling back down
    # (docs/containers.md): they are removed first, as a user has to.
    extras = [name for name in stack.containers() if not name.endswith("_1")]
    assert len(extras) == 3, stack.containers()
    run("podman", "rm", "-f", *extras)
    stack.compose("down", "-v")
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
