"""What the worker benchmarks share: a real `headrace server start` (embedded PostgreSQL in a
temporary home, free port), a code folder with a flow, and real `headrace worker start` processes.

Everything runs as a user would run it; nothing is mocked or in-process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from headrace_service.embedded import sqlalchemy_url_for_socket

HEADRACE = [sys.executable, "-m", "headrace.cli.main"]

FLOW_FILE = """
import os
import time
from pathlib import Path

from headrace import flow

OUT = Path(__file__).resolve().parent.parent / "out"


@flow
def touch() -> None:
    # The flow's first line: when it ran, by the same clock as the benchmark's.
    (OUT / os.environ["HEADRACE_FLOW_RUN_ID"]).write_text(repr(time.time()))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class BenchStack:
    url: str
    folder: Path
    env: dict[str, str]
    http: httpx.Client
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    server_pid: int = 0  # the `headrace server start` process (the API; PostgreSQL is apart)

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*HEADRACE, *args], cwd=self.folder, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(f"headrace {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def start_worker(self, pool: str, name: str, limit: int, *options: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the worker
        self.workers.append(
            subprocess.Popen(
                [
                    *HEADRACE,
                    "worker",
                    "start",
                    "--pool",
                    pool,
                    "--name",
                    name,
                    "--limit",
                    str(limit),
                    *options,
                ],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def wait_workers_online(self, pool: str, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http.get(f"/work_pools/{pool}").json().get("workers_online", 0) >= count:
                # Registered; give the first claim request a moment to reach the API.
                time.sleep(0.5)
                return
            time.sleep(0.1)
        raise SystemExit(f"{count} workers did not come online in {timeout}s")

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(60)
        self.workers.clear()

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the server's embedded PostgreSQL (its Unix socket)."""
        return sqlalchemy_url_for_socket(str(Path(self.env["HEADRACE_HOME"]) / "postgres"))

    def deployment_id(self, name: str) -> str:
        deployment_id: str = self.http.get(f"/deployments/name/{name}").json()["id"]
        return deployment_id


@contextmanager
def bench_stack(
    pool: str = "bench",
    *,
    flow_file: str = FLOW_FILE,
    entrypoint: str = "flows/bench.py:touch",
    server_env: dict[str, str] | None = None,
) -> Iterator[BenchStack]:
    """A fresh server (with `server_env` settings) and a deployment `<flow>/bench` of
    `entrypoint` in `flow_file` (the flow above unless told) in `pool`."""
    home = Path(tempfile.mkdtemp(prefix="hrb-", dir="/tmp"))
    folder = home / "code"
    (folder / "flows").mkdir(parents=True)
    (folder / "out").mkdir()
    (folder / "flows" / "bench.py").write_text(textwrap.dedent(flow_file))
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_HOME=str(home), HEADRACE_API_URL=url, HEADRACE_LOG_LEVEL="warning")
    server = subprocess.Popen(
        [*HEADRACE, "server", "start", "--port", str(port)],
        env={**env, **(server_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = httpx.Client(base_url=url, timeout=60)
    stack = BenchStack(url, folder, env, http, server_pid=server.pid)
    try:
        _wait_healthy(http, server)
        stack.cli("work-pool", "create", "--type", "process", pool)
        stack.cli("deploy", entrypoint, "--name", "bench", "--pool", pool)
        yield stack
    finally:
        stack.stop_workers()
        http.close()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(home, ignore_errors=True)


def out_folder(stack: BenchStack) -> Path:
    return stack.folder / "out"


def _wait_healthy(http: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if http.get("/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not come up")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }
