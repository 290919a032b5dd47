"""Requests per second, latency and API CPU per request of the run reads, 20 clients at once.

    .venv/bin/python bench/api_reads.py [--clients 20] [--seconds 10]

Starts its own server (embedded PostgreSQL, temporary home), makes 50 finished runs of four
states each, then for each read — `GET /api/flow_runs/{id}` (one run with its state history) and
`GET /api/flow_runs?limit=20` (the filter the dashboard and CLI use) — runs `--clients` client
connections, each sending its next request as soon as its last answer came, for `--seconds`.
It prints requests/s, latency p50/p99 and the CPU the API process spent per request (from
/proc/PID/stat before and after; PostgreSQL's own processes are not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
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
        results = {}
        for name, paths in reads.items():
            asyncio.run(hammer(stack.url, paths, args.clients, 1.0))  # warm-up
            cpu_before = cpu_seconds(stack.server_pid)
            latencies = asyncio.run(hammer(stack.url, paths, args.clients, args.seconds))
            cpu = cpu_seconds(stack.server_pid) - cpu_before
            results[name] = {
                "requests_per_s": round(len(latencies) / args.seconds, 1),
                "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "api_cpu_ms_per_request": round(cpu * 1000 / len(latencies), 2),
            }
    print(
        json.dumps({"clients": args.clients, "load_average": os.getloadavg(), **results}, indent=2)
    )


if __name__ == "__main__":
    main()
