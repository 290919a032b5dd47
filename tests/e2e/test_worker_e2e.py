"""Workers as users run them: a real server, real `headrace worker start` processes, flows in a
code folder deployed with `headrace deploy`, runs counted by their side effects."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import stop_all

pytestmark = pytest.mark.slow

# Short leases so crashes are found in seconds; heartbeats well inside them.
FAST_SERVER = {
    "lease_seconds": "3",
    "heartbeat_seconds": "0.5",
    "reaper_interval_seconds": "0.5",
    "log_level": "warning",
}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Each run is a Python process (~0.35 s of CPU): 1,000 runs took 287 s on 2 busy cores, so the
# suite races 100; HEADRACE_TEST_RACE_RUNS=1000 runs the full figure.
RACE_RUNS = int(os.environ.get("HEADRACE_TEST_RACE_RUNS", "100"))
HEADRACE = [sys.executable, "-m", "headrace.cli.main"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


FLOWS = """
import os
import subprocess
import sys
import time
from pathlib import Path

from headrace import flow

HERE = Path(__file__).resolve().parent.parent  # the code folder


def _note(name: str, line: str) -> None:
    # One short write with O_APPEND: lines of concurrent runs never interleave.
    with open(HERE / name, "a") as file:
        file.write(line + "\\n")


@flow
def etl(day: str, rows: int = 3) -> int:
    print(f"etl for {day}: {rows} rows")  # no log_prints: the worker forwards the output
    return rows


@flow
def count() -> None:
    _note("ran.txt", os.environ["HEADRACE_FLOW_RUN_ID"])


@flow
def nap(seconds: float) -> float:
    _note("started.txt", os.environ["HEADRACE_FLOW_RUN_ID"])
    time.sleep(seconds)
    return seconds


@flow(retries=1)
def fragile() -> str:
    marker = HERE / "first-attempt.pid"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(600)  # the first attempt hangs until its worker dies
    return "second attempt"


@flow
def with_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (HERE / "child.pid").write_text(str(child.pid))
    time.sleep(600)
"""


@dataclass
class Stack:
    """A server, the CLI pointed at it, and a code folder with the flows above."""

    url: str
    folder: Path
    env: dict[str, str]
    http: httpx.Client
    workers: list[subprocess.Popen[str]]
    # This test's own pool; deployments are named after it, so tests never share one.
    pool: str = "p"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*HEADRACE, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[str]:
        log = open(self.folder / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [*HEADRACE, "worker", "start", *args],
            cwd=self.folder,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(worker)
        return worker

    def worker_output(self, index: int) -> str:
        return (self.folder / f"worker-{index}.log").read_text()

    def wait_output(self, index: int, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.worker_output(index):
            assert time.monotonic() < deadline, self.worker_output(index)
            time.sleep(0.05)

    def deploy(self, function: str, pool: str | None = None) -> str:
        pool = pool or self.pool
        self.cli("deploy", f"flows/jobs.py:{function}", "--name", pool, "--pool", pool)
        return f"{function.replace('_', '-')}/{pool}"

    def run(self, deployment: str, **parameters: Any) -> str:
        response = self.http.post(
            f"/deployments/name/{deployment}/runs", json={"parameters": parameters}
        )
        assert response.status_code == 201, response.text
        run_id: str = response.json()["id"]
        return run_id

    def read(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.http.get(f"/flow_runs/{run_id}").json()
        return run

    def wait_state(
        self, run_id: str, states: set[str] = TERMINAL, timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.read(run_id)
            if run["state_type"] in states:
                return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} not in {states} after {timeout}s: {self.read(run_id)}")

    def wait_file(self, name: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            path = self.folder / name
            if path.exists() and path.read_text().strip():
                return path.read_text()
            time.sleep(0.05)
        raise AssertionError(f"{name} not written after {timeout}s")


def cli_env(api_url: str, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(
        HEADRACE_API_URL=api_url,
        HEADRACE_HOME=home,
        # Short graces keep the teardown of workers with hanging runs quick.
        HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="1",
        HEADRACE_WORKER_CANCEL_GRACE_SECONDS="2",
        # A worker's last long poll outlives it on the server until it wakes; keep it short.
        HEADRACE_WORKER_CLAIM_WAIT_SECONDS="2",
    )
    return env


def code_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "jobs.py").write_text(textwrap.dedent(FLOWS))
    return folder


def launch_server(database_url: str, folder: Path, port: int) -> subprocess.Popen[bytes]:
    """A real `headrace server start` with short leases; its output goes to a file (a pipe that
    nobody reads would block the server once full)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update({f"HEADRACE_{k.upper()}": v for k, v in FAST_SERVER.items()})
    env.update(HEADRACE_DATABASE_URL=database_url, HEADRACE_HOME=str(folder / "home"))
    log_file = folder / f"server-{port}.log"
    with open(log_file, "wb") as log:
        server = subprocess.Popen(
            [*HEADRACE, "server", "start", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log_file.read_text()
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server on port {port} did not come up")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


@pytest.fixture(scope="module")
def shared_server(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module (its start is the slow part); each test gets its own pool,
    deployments and code folder. The server migrates its new, empty database itself."""
    database = f"headrace_worker_e2e_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE DATABASE {database}")
    port = free_port()
    server = launch_server(postgres.url_for(database), tmp_path_factory.mktemp("server"), port)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        stop_server(server)
        postgres.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def stack(shared_server: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    folder = code_folder(tmp_path)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    env = cli_env(shared_server, str(tmp_path / "cli-home"))
    with httpx.Client(base_url=shared_server, timeout=30) as http:
        result = Stack(shared_server, folder, env, http, [], pool)
        http.post("/work_pools", json={"name": pool, "type": "process"}).raise_for_status()
        try:
            yield result
        finally:
            stop_all(result.workers)
            kill_pid_files(folder)


def kill_pid_files(folder: Path) -> None:
    """Processes a test left behind on purpose (an orphaned first attempt, a flow's child)."""
    for pid_file in folder.glob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def log_messages(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.http.get(
        f"/flow_runs/{run_id}/logs", params={"limit": 1000}
    ).json()["items"]
    return items


def test_worker_runs_a_deployment_made_by_headrace_deploy(stack: Stack) -> None:
    stack.cli("work-pool", "create", "--type", "process", "casd-pool")
    deployed = stack.cli(
        "deploy",
        "flows/jobs.py:etl",
        "--name",
        "daily",
        "--pool",
        "casd-pool",
        "--param",
        "day=2026-11-24",
    )
    assert "etl/daily" in deployed.stdout
    stack.start_worker("--pool", "casd-pool")
    ran = stack.cli("deployment", "run", "etl/daily", "--param", "day=2026-11-25")
    run_id = next(word for word in ran.stdout.split() if len(word) == 36 and word.count("-") == 4)
    run = stack.wait_state(run_id)
    assert run["state_type"] == "COMPLETED", run
    assert run["parameters"]["day"] == "2026-11-25"
    lines = log_messages(stack, run_id)
    printed = [line for line in lines if "etl for 2026-11-25: 3 rows" in line["message"]]
    assert [line["name"] for line in printed] == ["headrace.worker.output"]
    # The engine's own lines reach the API once, not a second time as forwarded output.
    assert sum("Beginning flow run" in line["message"] for line in lines) == 1


def test_two_workers_run_each_run_exactly_once(stack: Stack) -> None:
    deployment = stack.deploy("count")
    runs = [stack.run(deployment) for _ in range(RACE_RUNS)]
    started = time.monotonic()
    stack.start_worker("--pool", stack.pool, "--limit", "8", "--name", "a")
    stack.start_worker("--pool", stack.pool, "--limit", "8", "--name", "b")
    for run_id in runs:
        assert stack.wait_state(run_id, timeout=120)["state_type"] == "COMPLETED"
    elapsed = time.monotonic() - started
    executions = collections.Counter((stack.folder / "ran.txt").read_text().split())
    assert set(executions) == set(runs)
    assert max(executions.values()) == 1
    print(f"{RACE_RUNS} runs through 2 workers in {elapsed:.1f} s")


def test_sigkilled_worker_run_crashes_within_the_lease_and_reruns_once(stack: Stack) -> None:
    deployment = stack.deploy("fragile")
    first = stack.start_worker("--pool", stack.pool, "--name", "doomed")
    run_id = stack.run(deployment)
    stack.wait_file("first-attempt.pid")
    assert stack.read(run_id)["state_type"] == "RUNNING"
    first.kill()
    killed_at = time.monotonic()
    history: list[str] = []
    while "CRASHED" not in history and time.monotonic() - killed_at < 10:
        history = [s["type"] for s in stack.read(run_id)["states"]]
        time.sleep(0.05)
    crashed_after = time.monotonic() - killed_at
    # The lease is 3 s and the reaper sweeps every 0.5 s; the last heartbeat renewed it.
    assert "CRASHED" in history and crashed_after < 3 + 0.5 + 1.5, (history, crashed_after)
    stack.start_worker("--pool", stack.pool, "--name", "rescuer")
    run = stack.wait_state(run_id)
    assert run["state_type"] == "COMPLETED", run
    assert run["run_count"] == 2
    assert [s["type"] for s in run["states"]].count("RUNNING") == 2


def test_cancelling_a_running_run_kills_its_process_group(stack: Stack) -> None:
    deployment = stack.deploy("with_child")
    stack.start_worker("--pool", stack.pool)
    run_id = stack.run(deployment)
    child = int(stack.wait_file("child.pid"))
    assert alive(child)
    stack.cli("flow-run", "cancel", run_id)
    run = stack.wait_state(run_id, timeout=15)
    assert run["state_type"] == "CANCELLED", run
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the flow's child process survived the cancellation"


def test_worker_started_before_the_server_waits_and_connects(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = cli_env(url, str(tmp_path))
    stack = Stack(url, code_folder(tmp_path), env, httpx.Client(base_url=url), [], "early")
    server = None
    try:
        worker = stack.start_worker("--pool", "early", "--type", "process")
        stack.wait_output(0, "waiting for the headrace API")
        time.sleep(1.0)  # a few retries later: still alive, and said it once, not per retry
        assert worker.poll() is None
        waiting = stack.worker_output(0)
        assert waiting.count("waiting for the headrace API") == 1, waiting
        server = launch_server(database_url, tmp_path, port)
        stack.wait_output(0, "connected to the headrace API")
        run_id = stack.run(stack.deploy("etl"), day="today")
        assert stack.wait_state(run_id)["state_type"] == "COMPLETED"
    finally:
        stop_all(stack.workers)
        stack.http.close()
        if server is not None:
            stop_server(server)


def test_worker_sigterm_lets_a_running_run_finish_then_exits_0(stack: Stack) -> None:
    deployment = stack.deploy("nap")
    worker = stack.start_worker("--pool", stack.pool, HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="20")
    run_id = stack.run(deployment, seconds=2)
    stack.wait_file("started.txt")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert stack.read(run_id)["state_type"] == "COMPLETED"


def test_worker_shutdown_cancels_a_run_that_outlives_the_grace_period(stack: Stack) -> None:
    deployment = stack.deploy("nap")
    worker = stack.start_worker("--pool", stack.pool, HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="0.5")
    run_id = stack.run(deployment, seconds=600)
    stack.wait_file("started.txt")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    run = stack.read(run_id)
    assert run["state_type"] == "CANCELLED", run
    cancelling = [s for s in run["states"] if s["type"] == "CANCELLING"]
    assert [s["message"] for s in cancelling] == ["the worker shut down"]


def test_a_missing_code_folder_fails_the_run_and_the_worker_keeps_serving(stack: Stack) -> None:
    deployment = stack.deploy("etl")
    gone = stack.folder.parent / "gone"
    stack.http.post(
        "/deployments",
        json={
            "flow_name": "etl",
            "name": f"nowhere-{stack.pool}",
            "entrypoint": "flows/jobs.py:etl",
            "path": str(gone),
            "work_pool_name": stack.pool,
        },
    ).raise_for_status()
    stack.start_worker("--pool", stack.pool)
    broken = stack.run(f"etl/nowhere-{stack.pool}", day="x")
    run = stack.wait_state(broken)
    assert run["state_type"] == "FAILED"
    assert str(gone) in run["state_message"]
    fine = stack.run(deployment, day="y")
    assert stack.wait_state(fine)["state_type"] == "COMPLETED"


# Exit code 0 too: the worker goes by what the flow process said it recorded, not by its exit
# code (the outcome pipe, passed differently to a spawned and to a forked process).
@pytest.mark.parametrize(("start_method", "code"), [("fork", 7), ("spawn", 0)])
def test_flow_process_exiting_without_a_final_state_is_crashed_with_its_exit_code(
    stack: Stack, start_method: str, code: int
) -> None:
    (stack.folder / "flows" / "exits.py").write_text(
        "import os\nfrom headrace import flow\n\n@flow\ndef bail() -> None:\n"
        f"    os._exit({code})\n"
    )
    stack.cli("deploy", "flows/exits.py:bail", "--name", stack.pool, "--pool", stack.pool)
    stack.start_worker("--pool", stack.pool, "--start-method", start_method)
    run = stack.wait_state(stack.run(f"bail/{stack.pool}"))
    assert run["state_type"] == "CRASHED"
    assert f"flow process exited with code {code} without" in run["state_message"]


def test_an_entrypoint_that_is_not_a_flow_ends_the_run_without_calling_it(stack: Stack) -> None:
    # The API cannot see the code: a plain function is refused by the flow process.
    stack.http.post(
        "/deployments",
        json={
            "flow_name": "note",
            "name": stack.pool,
            "entrypoint": "flows/jobs.py:_note",
            "path": str(stack.folder),
            "work_pool_name": stack.pool,
        },
    ).raise_for_status()
    stack.start_worker("--pool", stack.pool)
    run_id = stack.run(f"note/{stack.pool}", name="owned.txt", line="called")
    run = stack.wait_state(run_id)
    assert run["state_type"] == "CRASHED"
    logs = log_messages(stack, run_id)
    assert any(
        "'flows/jobs.py:_note' is not a flow (a plain function)" in line["message"] for line in logs
    ), logs
    assert not (stack.folder / "owned.txt").exists()


def test_worker_for_a_missing_pool_fails_in_one_line(stack: Stack) -> None:
    result = stack.cli("worker", "start", "--pool", "nope", check=False)  # no --type
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: work pool nope does not exist; create it with "
        "`headrace work-pool create --type process nope` or pass --type"
    )


def test_workers_started_together_on_a_new_pool_all_serve_it(stack: Stack) -> None:
    # `docker compose up --scale worker=3` on a fresh database: three workers race to create
    # the pool; the two that lose the race must use it, not exit.
    pool = f"fresh-{uuid.uuid4().hex[:8]}"
    workers = [stack.start_worker("--pool", pool, "--type", "process") for _ in range(3)]
    deadline = time.monotonic() + 30
    online: list[str] = []
    while time.monotonic() < deadline and len(online) < 3:
        for index, worker in enumerate(workers):
            assert worker.poll() is None, stack.worker_output(index)
        response = stack.http.get(f"/work_pools/{pool}/workers")
        if response.status_code == 200:
            online = [w["name"] for w in response.json() if w["status"] == "ONLINE"]
        time.sleep(0.2)
    assert len(online) == 3, online


def test_deploy_errors_are_one_line(stack: Stack) -> None:
    for args, message in [
        (("flows/none.py:etl",), "not found"),
        (("flows/jobs.py:nothing",), "has no attribute 'nothing'"),
        # A function without @flow is not deployed (the flow process would refuse to run it).
        (("flows/jobs.py:_note",), "is not a flow (a plain function); decorate"),
        (("flows/jobs.py:etl", "--pool", "nope"), "nope"),
    ]:
        pool = () if "--pool" in args else ("--pool", stack.pool)
        result = stack.cli("deploy", *args, "--name", "d", *pool, check=False)
        assert result.returncode == 2, result
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr


def test_python_api_deploys_what_the_cli_deploys(stack: Stack) -> None:
    from headrace import flow
    from headrace.client import HeadraceClient

    with HeadraceClient(stack.url) as client:
        source = flow.from_source(source=stack.folder, entrypoint="flows/jobs.py:fragile")
        deployed = source.deploy(name=stack.pool, work_pool_name=stack.pool, client=client)
        assert (deployed.flow_name, deployed.entrypoint) == ("fragile", "flows/jobs.py:fragile")
        assert deployed.path == str(stack.folder.resolve())
        assert deployed.retries == 1  # a crashed run of it is rerun once
        etl = flow.from_source(source=stack.folder, entrypoint="flows/jobs.py:etl").flow
        again = etl.deploy(
            stack.pool, stack.pool, parameters={"day": "d"}, path=stack.folder, client=client
        )
        assert again.entrypoint == "flows/jobs.py:etl"
        assert again.parameters == {"day": "d"}
        assert again.parameter_schema["required"] == ["day"]
    stack.start_worker("--pool", stack.pool)
    run = stack.wait_state(stack.run(f"etl/{stack.pool}"))
    assert run["state_type"] == "COMPLETED" and run["parameters"]["day"] == "d"


def test_a_stopped_workers_last_long_poll_takes_no_run(stack: Stack) -> None:
    deployment = stack.deploy("etl")
    gone = stack.start_worker("--pool", stack.pool, "--name", "gone")
    stack.wait_output(0, "serving pool")
    time.sleep(0.3)  # its claim request is now waiting on the server
    gone.send_signal(signal.SIGTERM)
    assert gone.wait(10) == 0
    # The server still holds that request until it wakes: this run must not go to it.
    run_id = stack.run(deployment, day="after")
    time.sleep(0.5)
    assert stack.read(run_id)["state_type"] == "SCHEDULED"
    stack.start_worker("--pool", stack.pool, "--name", "next")
    run = stack.wait_state(run_id)
    assert run["state_type"] == "COMPLETED", run
