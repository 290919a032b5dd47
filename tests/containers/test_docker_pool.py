"""The docker work-pool type against a real engine: podman's Docker-compatible API socket.

Each run is a container of the project's image (built by the containers suite), its code a
bundle uploaded from the host; the worker and the server run on the host.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.containers.stack import IMAGE, Stack, build_images, run, wait_for

pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

FLOWS = """\
import time

from headrace import flow


@flow(log_prints=True)
def hello(name: str) -> str:
    print(f"hello {name} from a container")
    return name


@flow(log_prints=True)
def sleepy() -> None:
    print("sleeping")
    time.sleep(300)
"""
LABEL_RUN = "io.headrace.flow-run-id"


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """The project's image, and podman serving the Docker Engine API on a socket of our own."""
    build_images(Stack().timings)
    folder = tempfile.mkdtemp(prefix="hr-podman-")
    socket = f"{folder}/podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: os.path.exists(socket), 30, "podman system service never made its socket")
    yield f"unix://{socket}"
    # Whatever a failed test left: the suite ends with no container of a run.
    left = run("podman", "ps", "-a", "-q", "--filter", f"label={LABEL_RUN}").split()
    if left:
        run("podman", "rm", "-f", "-t", "0", *left)
    service.send_signal(signal.SIGTERM)
    service.wait(30)


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def docker_pool(
    docker_host: str, start_server: Callable[..., Any], tmp_path: Path
) -> Iterator[tuple[dict[str, str], Path, Any]]:
    """A server, a docker pool with a worker on the host, and the two flows deployed."""
    server = start_server()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=server.url, DOCKER_HOST=docker_host)
    (tmp_path / "flows.py").write_text(FLOWS)
    created = cli(env, "work-pool", "create", "--type", "docker", "boxes", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    for name in ("hello", "sleepy"):
        deployed = cli(
            env,
            "deploy",
            f"flows.py:{name}",
            "--name",
            "box",
            "--pool",
            "boxes",
            "--upload",
            "--image",
            IMAGE,
            "--job-variable",
            "network=host",
            cwd=tmp_path,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "headrace.cli.main", "worker", "start", "--pool", "boxes"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield env, tmp_path, server
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def containers_of(run_id: str) -> list[str]:
    return run(
        "podman", "ps", "-a", "--filter", f"label={LABEL_RUN}={run_id}", "--format", "{{.Names}}"
    ).split()


def start_run(env: dict[str, str], folder: Path, flow_name: str, *params: str) -> str:
    made = cli(env, "deployment", "run", f"{flow_name}/box", *params, cwd=folder)
    assert made.returncode == 0, made.stderr
    found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", made.stdout)
    assert found, made.stdout
    return found.group(0)


def state_of(server: Any, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/flow_runs/{run_id}", timeout=10).json()
    return body


def test_a_run_completes_in_its_own_container_with_its_logs(docker_pool: Any) -> None:
    env, folder, _ = docker_pool
    watched = cli(
        env, "deployment", "run", "hello/box", "--param", "name=ada", "--watch", cwd=folder
    )
    assert watched.returncode == 0, (
        watched.stdout + watched.stderr + (folder / "worker.log").read_text()
    )
    run_id = re.search(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", watched.stdout
    )
    assert run_id
    logs = cli(env, "flow-run", "logs", run_id.group(0), cwd=folder)
    assert "hello ada from a container" in logs.stdout
    # auto_remove (the default): the container is gone once the run is over.
    wait_for(lambda: containers_of(run_id.group(0)) == [], 30, "the container was left behind")


def test_cancelling_stops_the_container(docker_pool: Any) -> None:
    env, folder, server = docker_pool
    run_id = start_run(env, folder, "sleepy")
    wait_for(lambda: state_of(server, run_id)["state_type"] == "RUNNING", 120, "never Running")
    wait_for(lambda: len(containers_of(run_id)) == 1, 30, "no container for the run")
    cancelled = cli(env, "flow-run", "cancel", run_id, cwd=folder)
    assert cancelled.returncode == 0, cancelled.stderr
    wait_for(lambda: state_of(server, run_id)["state_type"] == "CANCELLED", 90, "never Cancelled")
    wait_for(lambda: containers_of(run_id) == [], 60, "the container outlived the cancellation")


def test_a_container_killed_from_outside_crashes_the_run_with_the_reason(docker_pool: Any) -> None:
    env, folder, server = docker_pool
    run_id = start_run(env, folder, "sleepy")
    wait_for(lambda: state_of(server, run_id)["state_type"] == "RUNNING", 120, "never Running")
    wait_for(lambda: len(containers_of(run_id)) == 1, 30, "no container for the run")
    (name,) = containers_of(run_id)
    run("podman", "kill", name)
    wait_for(lambda: state_of(server, run_id)["state_type"] == "CRASHED", 90, "never Crashed")
    assert "137" in (state_of(server, run_id)["state_message"] or "")
    logs = cli(env, "flow-run", "logs", run_id, cwd=folder)
    assert "by something outside this worker" in logs.stdout


def test_the_container_of_a_finished_run_is_removed_as_an_orphan(docker_pool: Any) -> None:
    """A worker SIGKILLed with its runs leaves their containers: any worker of a docker pool
    removes a labelled container once its run is over or held by another worker."""
    env, folder, server = docker_pool
    finished = start_run(env, folder, "hello", "--param", "name=orphan")
    wait_for(lambda: state_of(server, finished)["state_type"] == "COMPLETED", 120, "not Completed")
    wait_for(lambda: containers_of(finished) == [], 30, "the run's own container was left behind")
    labels = [f"{LABEL_RUN}={finished}", "io.headrace.worker-id=a-dead-worker"]
    run("podman", "run", "-d", *[f"--label={label}" for label in labels], IMAGE, "sleep", "300")
    assert len(containers_of(finished)) == 1
    wait_for(lambda: containers_of(finished) == [], 60, "the orphan was never removed")
    assert "removed the orphaned container" in (folder / "worker.log").read_text()
