"""Requests per second, latency and API CPU per request of the run reads, 20 clients at once.

    .venv/bin/python bench/api_reads.py [--clients 20] [--seconds 10]

Starts its own server (embedded PostgreSQL, temporary home), makes 50 finished runs of four
states each, then for each read — `GET /api/flow_runs/{id}` (one run with its state history) and
`GET /api/flow_runs?limit=20` (the filter the dashboard and CLI use) — runs `--clients` client
connections, each sending its next request as soon as its last answer came, for `--seconds`.
It prints requests/s, latency p50/p99 and the CPU the API process spent per request (from
/proc/PID/stat before and after; PostgreSQL's own processes are not in it).

`--load wrk` sends the requests with wrk (Debian's `wrk` package, written in C) instead of 20
httpx clients in this Python process: on two cores the Python clients take a CPU share close to
the API's own, so they cap the figure below what the API serves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _stack import bench_stack, percentile

STATES = ("PENDING", "RUNNING", "COMPLETED")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hammer(url: str, paths: list[str], clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def client(n: int) -> None:
            i = n
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = await http.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                i += 1

        await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies


# wrk: each connection walks the paths in turn; at the end one JSON line with the counts.
WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def hammer_wrk(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """requests, p50_us, p99_us and errors of wrk sending `paths` for `seconds`."""
    parts = urlsplit(url)
    quoted = ", ".join(f'"{parts.path}{path}"' for path in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % quoted)
        script.flush()
        done = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(clients),
                "-d",
                f"{max(1, round(seconds))}s",
                "-s",
                script.name,
                f"{parts.scheme}://{parts.netloc}",
            ],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    if figures["errors"]:
        raise SystemExit(f"wrk saw {figures['errors']} errors:\n{out}")
    return figures


def measure(
    load: str, url: str, pid: int, paths: list[str], clients: int, seconds: float
) -> dict[str, float]:
    if load == "wrk":
        hammer_wrk(url, paths, clients, 1.0)  # warm-up
        cpu_before = cpu_seconds(pid)
        figures = hammer_wrk(url, paths, clients, seconds)
        cpu = cpu_seconds(pid) - cpu_before
        count = int(figures["requests"])
        p50, p99 = figures["p50_us"] / 1e6, figures["p99_us"] / 1e6
    else:
        asyncio.run(hammer(url, paths, clients, 1.0))  # warm-up
        cpu_before = cpu_seconds(pid)
        latencies = asyncio.run(hammer(url, paths, clients, seconds))
        cpu = cpu_seconds(pid) - cpu_before
        count = len(latencies)
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "requests_per_s": round(count / seconds, 1),
        "p50_ms": round(p50 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "api_cpu_ms_per_request": round(cpu * 1000 / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--load", choices=("httpx", "wrk"), default="httpx")
    args = parser.parse_args()
    if args.load == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--load wrk needs wrk on PATH (apt-get install wrk)")
    with bench_stack() as stack:
        deployment = stack.deployment_id("touch/bench")
        run_ids = []
        for _ in range(50):
            run = stack.http.post(f"/deployments/{deployment}/runs", json={}).json()
            for state in STATES:
                stack.http.post(
                    f"/flow_runs/{run['id']}/set_state",
                    json={"state": {"type": state}, "force": True},
                ).raise_for_status()
            run_ids.append(run["id"])
        reads = {
            "GET /api/flow_runs/{id}": [f"/flow_runs/{rid}" for rid in run_ids],
            "GET /api/flow_runs?limit=20": ["/flow_runs?limit=20"],
        }
        results = {
            name: measure(args.load, stack.url, stack.server_pid, paths, args.clients, args.seconds)
            for name, paths in reads.items()
        }
    print(
        json.dumps(
            {
                "clients": args.clients,
                "load": args.load,
                "load_average": os.getloadavg(),
                **results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
