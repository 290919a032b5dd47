"""`deployment_stack`: what a user of deployments has — a real `headrace server start`, one real
`headrace worker start`, a code folder with a few flows, and the CLI run as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

HEADRACE = [sys.executable, "-m", "headrace.cli.main"]

FLOWS = """
import time

from headrace import flow


@flow
def greet(who: str = "world") -> str:
    print(f"hello {who}")
    return who


@flow
def boom() -> None:
    raise RuntimeError("boom on purpose")


@flow
def nap(seconds: float) -> float:
    print("napping")
    time.sleep(seconds)
    return seconds
"""


@dataclass
class DeploymentStack:
    url: str
    folder: Path
    env: dict[str, str]
    http: httpx.Client
    pool: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # The `ServerProcess` (tests/conftest.py), to stop or restart it.
    server: Any = None

    def cli(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*HEADRACE, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert result.returncode == 0, (result.stdout, result.stderr)
        return result

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """The CLI as a background process, its output in pipes (for commands that end)."""
        return subprocess.Popen(
            [*HEADRACE, *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def deploy(self, function: str, *options: str) -> str:
        """Deploy flows/jobs.py:function as FUNCTION/POOL; its full name."""
        self.cli(
            "deploy",
            f"flows/jobs.py:{function}",
            "--name",
            self.pool,
            "--pool",
            self.pool,
            *options,
        )
        return f"{function}/{self.pool}"

    def start_worker(self, pool: str | None = None) -> None:
        log = open(self.folder / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        self.workers.append(
            subprocess.Popen(
                [*HEADRACE, "worker", "start", "--pool", pool or self.pool, "--type", "process"],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def read(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.http.get(f"/flow_runs/{run_id}").json()
        return run


@pytest.fixture
def deployment_stack(
    start_server: Callable[..., Any], database_url: str, tmp_path: Path
) -> Iterator[Callable[..., DeploymentStack]]:
    """`deployment_stack(**server_env)`: a server (HEADRACE_<KEY>=value for each key), a code
    folder and a pool; `.start_worker()` starts a worker. Everything stops with the test."""
    stacks: list[DeploymentStack] = []

    def make(auth: bool = False, **server_env: str) -> DeploymentStack:
        if auth:
            server_env["auth_enabled"] = "true"
        server = start_server(database_url=database_url, log_level="warning", **server_env)
        folder = tmp_path / "code"
        (folder / "flows").mkdir(parents=True)
        (folder / "flows" / "jobs.py").write_text(textwrap.dedent(FLOWS))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        env.update(
            HEADRACE_API_URL=server.url,
            HEADRACE_HOME=str(tmp_path / "cli-home"),
            HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="1",
            HEADRACE_WORKER_CANCEL_GRACE_SECONDS="2",
            HEADRACE_WORKER_CLAIM_WAIT_SECONDS="2",
        )
        if auth:
            env["HEADRACE_API_KEY"] = _admin_key(database_url, env)
        headers = {"Authorization": f"Bearer {env['HEADRACE_API_KEY']}"} if auth else {}
        stack = DeploymentStack(
            server.url,
            folder,
            env,
            httpx.Client(base_url=server.url, timeout=30, headers=headers),
            f"pool-{uuid.uuid4().hex[:8]}",
        )
        stack.server = server
        stacks.append(stack)
        stack.http.post(
            "/work_pools", json={"name": stack.pool, "type": "process"}
        ).raise_for_status()
        return stack

    yield make
    for stack in stacks:
        stop_all(stack.workers)
        stack.http.close()


def _admin_key(database_url: str, env: dict[str, str]) -> str:
    """The first admin key, made as an operator makes it: against the database directly."""
    made = subprocess.run(
        [*HEADRACE, "server", "api-key", "create", "tests", "--scope", "admin"],
        env={**env, "HEADRACE_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.strip()


def stop_all(workers: Sequence[subprocess.Popen[Any]]) -> None:
    """SIGTERM every worker still running, then wait for each (SIGKILL after 15 s)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
