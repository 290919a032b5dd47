"""Fixtures of the fault suite: the queue helpers of tests/api and the worker stack of tests/e2e,
loaded from their files (tests/ is not a package) so the suite reuses them instead of copying."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import httpx
import pytest
from sqlalchemy import create_engine, pool

TESTS = Path(__file__).resolve().parent.parent


def load(relative: str, name: str) -> ModuleType:
    """A helper module of another test folder, loaded once under a private name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


api_helpers = load("api/conftest.py", "_faults_api_helpers")
WaitingClaim = api_helpers.WaitingClaim  # test modules import it from here


@pytest.fixture
def queue_api(http: httpx.Client) -> Any:
    return api_helpers.QueueApi(http)


@pytest.fixture
def sql(database_url: str) -> Iterator[Any]:
    from headrace_service.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    yield api_helpers.Sql(engine)
    engine.dispose()


@pytest.fixture
def make_queue_api() -> Any:
    """QueueApi over any httpx.Client (a server process of the test's own)."""
    return api_helpers.QueueApi


# --- Real processes: the worker stack of tests/e2e with flows that keep an execution ledger ----

e2e = load("e2e/test_worker_e2e.py", "_faults_e2e_helpers")

LEDGER_FLOWS = """
import json
import os
import time
from pathlib import Path

import httpx

from headrace import flow

HERE = Path(__file__).resolve().parent.parent  # the code folder


def _ledger(**entry: object) -> None:
    # One short O_APPEND write per line: lines of concurrent processes never interleave.
    with open(HERE / "ledger.jsonl", "a") as file:
        file.write(json.dumps(entry) + "\\n")


def _work(first: float, later: float) -> int:
    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]
    run = httpx.get(f"{os.environ['HEADRACE_API_URL']}/flow_runs/{run_id}").json()
    attempt = run["run_count"]  # the server's count: it survives worker crashes
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="start", t=time.time())
    time.sleep(first if attempt == 1 else later)
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="end", t=time.time())
    return attempt


@flow
def once(first: float, later: float = 0.0) -> int:
    return _work(first, later)


@flow(retries=1)
def twice(first: float, later: float = 0.0) -> int:
    return _work(first, later)
"""


def read_ledger(folder: Path) -> list[dict[str, Any]]:
    path = folder / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def server_process(postgres: Any, folder: Path, **settings: str) -> Iterator[str]:
    """A real server on a database of its own: e2e.FAST_SERVER (3 s lease, 0.5 s heartbeat and
    sweep) with `settings` (server settings, lower case) over it. Yields its API URL."""
    database = f"headrace_faults_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE DATABASE {database}")
    port = e2e.free_port()
    with mock.patch.dict(e2e.FAST_SERVER, settings):  # read by launch_server as it starts
        server = e2e.launch_server(postgres.url_for(database), folder, port)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        e2e.stop_server(server)
        postgres.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture(scope="module")
def fault_server(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server per module, short leases (e2e.FAST_SERVER: 3 s lease, 0.5 s sweep)."""
    with server_process(postgres, tmp_path_factory.mktemp("srv")) as url:
        yield url


@contextlib.contextmanager
def ledger_stack(url: str, tmp_path: Path) -> Iterator[Any]:
    """e2e.Stack on the server at `url`, its own pool, and the ledger flows in flows/jobs.py;
    at the end its workers are stopped and the flow processes it left behind are killed."""
    folder = tmp_path / "code"
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "jobs.py").write_text(LEDGER_FLOWS)
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    env = e2e.cli_env(url, str(tmp_path / "cli-home"))
    with httpx.Client(base_url=url, timeout=30) as http:
        stack = e2e.Stack(url, folder, env, http, [], pool)
        http.post("/work_pools", json={"name": pool, "type": "process"}).raise_for_status()
        try:
            yield stack
        finally:
            # Flow processes a test stopped or orphaned on purpose, then the workers.
            for pid in {entry["pid"] for entry in read_ledger(folder)}:
                try:
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for worker in stack.workers:
                if worker.poll() is None:
                    os.kill(worker.pid, signal.SIGCONT)
            e2e.stop_all(stack.workers)


@pytest.fixture
def fault_stack(fault_server: str, tmp_path: Path) -> Iterator[Any]:
    with ledger_stack(fault_server, tmp_path) as stack:
        yield stack


@pytest.fixture
def make_ledger_stack() -> Any:
    """ledger_stack, for a test that starts its own server."""
    return ledger_stack


@pytest.fixture
def ledger() -> Any:
    return read_ledger


tcp_proxy = load("faults/tcp_proxy.py", "_faults_tcp_proxy")


@pytest.fixture
def cuttable_proxy() -> Iterator[Any]:
    """`cuttable_proxy(url)` -> (proxy, the same API URL through the proxy); closed at the end."""
    proxies: list[Any] = []

    def make(url: str) -> tuple[Any, str]:
        parsed = httpx.URL(url)
        proxy = tcp_proxy.CuttableProxy((parsed.host, parsed.port or 80))
        proxies.append(proxy)
        return proxy, str(parsed.copy_with(port=proxy.port))

    yield make
    for proxy in proxies:
        proxy.close()


# --- Waits and ledger lookups of the tests that break real workers -----------------------------
# (test modules import them: `from tests.faults.conftest import wait_for`)

LEASE = 3.0  # FAST_SERVER of tests/e2e


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not seen after {timeout}s"
        time.sleep(0.05)
    return value


def started(ledger: Any, stack: Any, run_id: str, attempt: int) -> dict[str, Any] | None:
    return next(
        (
            e
            for e in ledger(stack.folder)
            if e["run"] == run_id and e["attempt"] == attempt and e["event"] == "start"
        ),
        None,
    )


def crashed(stack: Any, run_id: str) -> bool:
    """The run went through Crashed (it may be Scheduled again for its retry by now)."""
    return "CRASHED" in [s["type"] for s in stack.read(run_id)["states"]]


def running(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        status = open(f"/proc/{pid}/status").read()  # noqa: SIM115
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


# --- A flow that talks to the API all along, through the SDK client (scenarios 10 and 12) ------

STEADY_FLOW = """

from headrace import get_run_logger, task
from headrace.client import HeadraceClient


@task
def _step(i: int, pause: float) -> int:
    get_run_logger().info(f"step {i}")
    time.sleep(pause)
    return i


@flow
def steady(steps: int = 4, pause: float = 0.1) -> int:
    # Reports task runs and log lines all along. Its attempt is read through the SDK client,
    # which retries and fails over (HEADRACE_API_URL may list several URLs): an outage of the
    # API or the database delays this flow, it does not fail it.
    run_id = os.environ["HEADRACE_FLOW_RUN_ID"]
    with HeadraceClient(retries=30) as client:
        attempt = client.get_json(f"/flow_runs/{run_id}")["run_count"]
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="start", t=time.time())
    total = sum(_step(i, pause) for i in range(steps))
    _ledger(run=run_id, attempt=attempt, pid=os.getpid(), event="end", t=time.time())
    return total
"""


@pytest.fixture
def add_steady_flow() -> Any:
    """`add_steady_flow(stack)`: the `steady` flow joins the stack's flows/jobs.py (sharing its
    ledger); deploy it with `stack.deploy("steady")`."""

    def add(stack: Any) -> None:
        with open(stack.folder / "flows" / "jobs.py", "a") as jobs:
            jobs.write(STEADY_FLOW)

    return add


def attempts_not_run_once(entries: list[dict[str, Any]]) -> dict[tuple[str, int], list[str]]:
    """(run, attempt) -> its ledger events, for each attempt not started and ended exactly once."""
    events: dict[tuple[str, int], list[str]] = {}
    for entry in entries:
        events.setdefault((entry["run"], entry["attempt"]), []).append(entry["event"])
    return {key: seen for key, seen in events.items() if sorted(seen) != ["end", "start"]}


@pytest.fixture
def ledger_faults() -> Any:
    return attempts_not_run_once


# --- A flow script run by hand (no worker), through outages (scenarios 10 and 12) -------------

STEPPING_SCRIPT = """
import json
import os
import sys
import time
import time
from pathlib import Path

from headrace import flow, get_run_context, get_run_logger, task

READY, LEDGER = Path(sys.argv[1]), Path(sys.argv[2])


@task
def step(i: int) -> int:
    get_run_logger().info(f"step {i}")
    time.sleep(0.25)
    return i


@flow
def stepping(steps: int) -> int:
    run_id = str(get_run_context().flow_run_id)
    READY.write_text(run_id)
    _ledger(run=run_id, attempt=1, pid=os.getpid(), event="start", t=time.time())
    total = sum(step(i) for i in range(steps))
    _ledger(run=run_id, attempt=1, pid=os.getpid(), event="end", t=time.time())
    return total


def _ledger(**entry: object) -> None:
    with open(LEDGER, "a") as file:
        file.write(json.dumps(entry) + "\\n")


if __name__ == "__main__":
    stepping(int(sys.argv[3]))
"""


class SteppingScript:
    """`python script.py`: a flow of `steps` tasks of 0.25 s, each logging "step i", started by
    hand with HEADRACE_API_URL set to `api_url` (one URL or several); the ledger in `folder`."""

    def __init__(self, api_url: str, steps: int, folder: Path) -> None:
        self.api_url, self.steps, self.folder = api_url, steps, folder
        folder.mkdir(parents=True)
        (folder / "script.py").write_text(STEPPING_SCRIPT)
        self.ready = folder / "ready"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env.update(HEADRACE_API_URL=api_url, HEADRACE_HOME=str(folder / "client-home"))
        self.process = subprocess.Popen(
            [sys.executable, "script.py", str(self.ready), "ledger.jsonl", str(steps)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_started(self, timeout: float = 30) -> str:
        """The flow run's id, once its body runs."""
        deadline = time.monotonic() + timeout
        while not (self.ready.exists() and self.ready.read_text()):
            assert self.process.poll() is None, self.process.communicate()[0]
            assert time.monotonic() < deadline, "the script's flow did not start"
            time.sleep(0.05)
        return self.ready.read_text()

    def finish(self, timeout: float = 60) -> None:
        self.output, _ = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, self.output[-3000:]

    def assert_all_recorded(self, api_url: str | None = None) -> None:
        """Completed, every task run and log line recorded; the body ran once, start to end."""
        run_id = self.ready.read_text()
        with httpx.Client(base_url=api_url or self.api_url, timeout=30) as http:
            run = http.get(f"/flow_runs/{run_id}").json()
            task_runs = http.get(f"/flow_runs/{run_id}/task_runs").json()
            logs = http.get(f"/flow_runs/{run_id}/logs", params={"limit": 10_000}).json()
        assert run["state_type"] == "COMPLETED", (run, self.output[-3000:])
        assert sorted(t["state_type"] for t in task_runs) == ["COMPLETED"] * self.steps
        messages = {entry["message"] for entry in logs["items"]}
        assert {f"step {i}" for i in range(self.steps)} <= messages, sorted(messages)
        entries = read_ledger(self.folder)
        assert [(e["run"], e["event"]) for e in entries] == [(run_id, "start"), (run_id, "end")]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def stepping_script(tmp_path: Path) -> Iterator[Any]:
    """`stepping_script(api_url, steps)` -> a started SteppingScript; killed at the end if left."""
    scripts: list[SteppingScript] = []

    def start(api_url: str, steps: int) -> SteppingScript:
        script = SteppingScript(api_url, steps, tmp_path / f"script-{len(scripts)}")
        scripts.append(script)
        return script

    yield start
    for script in scripts:
        script.kill()
