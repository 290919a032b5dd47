"""headrace against Prefect 3 on the same workload: a flow calling a trivial task N times.

    python bench/prefect_compare.py [--n 1000]

Installs Prefect 3 into its own throw-away venv (/tmp/headrace-bench-prefect, reused when
present), starts each system's server on its own port with a fresh home, runs
bench/_overhead_workload.py under both and prints microseconds per tracked task and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
WORKLOAD = HERE / "_overhead_workload.py"
PREFECT_VENV = Path("/tmp/headrace-bench-prefect")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def prefect_python() -> Path:
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "prefect>=3,<4"], check=True)
    return python


def measure(python: Path, system: str, env: dict[str, str], n: int) -> dict[str, float]:
    out = subprocess.run(
        [str(python), str(WORKLOAD), system, str(n)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    n = parser.parse_args().n
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEADRACE_", "PREFECT_"))}
    servers: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        home = tempfile.mkdtemp(prefix="hrb-", dir="/tmp")
        servers.append(
            subprocess.Popen(
                [sys.executable, "-m", "headrace.cli.main", "server", "start", "--port", str(port)],
                env={**base, "HEADRACE_HOME": home},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_healthy(f"http://127.0.0.1:{port}/api/health")
        ours = measure(
            Path(sys.executable),
            "headrace",
            {**base, "HEADRACE_API_URL": f"http://127.0.0.1:{port}/api"},
            n,
        )

        python = prefect_python()
        pport = free_port()
        penv = {
            **base,
            "PREFECT_HOME": tempfile.mkdtemp(prefix="pfb-", dir="/tmp"),
            "PREFECT_API_URL": f"http://127.0.0.1:{pport}/api",
        }
        servers.append(
            subprocess.Popen(
                [
                    str(python.parent / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(pport),
                ],
                env=penv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_healthy(f"http://127.0.0.1:{pport}/api/health")
        theirs = measure(python, "prefect", penv, n)
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)
    print(f"{n} sequential tracked tasks, microseconds per task above a plain call:")
    for key, label in (("body_us", "in the flow body"), ("whole_us", "whole flow run")):
        print(
            f"  {label:18} headrace {ours[key]:9.1f}   Prefect {theirs[key]:9.1f}   "
            f"Prefect/headrace {theirs[key] / ours[key]:6.1f}x"
        )


if __name__ == "__main__":
    main()
