"""Log ingestion: lines/s stored with none lost, and how the API answers while 20 flows log.

    .venv/bin/python bench/log_ingest.py [--seconds 20] [--flows 20] [--throughput-flows 4]

Starts its own server (embedded PostgreSQL, temporary home; lease 15 s, heartbeat 3 s) and one
`headrace worker start`. Each run of the deployment is a flow that logs 200-character lines
through `get_run_logger()` as fast as it can for `--seconds`, then writes how many it logged.

1. Throughput: `--throughput-flows` runs at once; lines/s = lines stored / time from the first
   run starting to the last line stored (counted in the database). Every logged line must be
   stored.
2. Under load: `--flows` runs at once, while a prober asks `GET /api/health` and
   `GET /api/flow_runs/{id}` (one of the logging runs) in turn, one request at a time; their
   p50/p99, the runs' final states (none may be Crashed) and the lines lost.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from typing import Any

import httpx
from _stack import BenchStack, bench_stack, out_folder, percentile
from sqlalchemy import create_engine, text

FLOW_FILE = """
import os
import time
from pathlib import Path

from headrace import flow, get_run_logger

OUT = Path(__file__).resolve().parent.parent / "out"
PAD = "x" * 191


@flow
def chatty(seconds: float) -> None:
    logger = get_run_logger()
    logged = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(100):
            logger.info("%08d %s", logged, PAD)
            logged += 1
    (OUT / os.environ["HEADRACE_FLOW_RUN_ID"]).write_text(str(logged))
"""

TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def stored_lines(database_url: str, run_ids: list[str]) -> dict[str, int]:
    """Lines of the flow itself (not the engine's) stored per run, counted in the database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT flow_run_id::text, count(*) FROM log "
                    "WHERE flow_run_id::text = ANY(:ids) AND message ~ '^[0-9]{8} ' GROUP BY 1"
                ),
                {"ids": run_ids},
            ).all()
    finally:
        engine.dispose()
    return {run_id: 0 for run_id in run_ids} | {str(r[0]): int(r[1]) for r in rows}


def start_runs(stack: BenchStack, count: int, seconds: float) -> list[str]:
    ids = []
    for _ in range(count):
        response = stack.http.post(
            "/deployments/name/chatty/bench/runs", json={"parameters": {"seconds": seconds}}
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


def wait_ended(stack: BenchStack, run_ids: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    runs: dict[str, Any] = {}
    while time.monotonic() < deadline:
        runs = {i: stack.http.get(f"/flow_runs/{i}").json() for i in run_ids}
        if all(run["state_type"] in TERMINAL for run in runs.values()):
            return runs
        time.sleep(0.5)
    raise SystemExit(f"runs not finished after {timeout} s")


def first_start(runs: dict[str, Any]) -> float:
    from datetime import datetime

    return min(datetime.fromisoformat(run["start_time"]).timestamp() for run in runs.values())


def lines_report(stack: BenchStack, runs: dict[str, Any]) -> dict[str, int]:
    out = out_folder(stack)
    logged = {i: int((out / i).read_text()) if (out / i).exists() else 0 for i in runs}
    stored = stored_lines(stack.database_url, list(runs))
    return {
        "logged": sum(logged.values()),
        "stored": sum(stored.values()),
        "lost": sum(max(0, logged[i] - stored[i]) for i in runs),
    }


def throughput(stack: BenchStack, flows: int, seconds: float) -> dict[str, Any]:
    run_ids = start_runs(stack, flows, seconds)
    runs = wait_ended(stack, run_ids, seconds * 10 + 60)
    # Every run has ended: its process flushed its lines (or gave up) before that.
    ended = time.time()
    report = lines_report(stack, runs)
    elapsed = ended - first_start(runs)
    return {
        "flows": flows,
        "states": dict(Counter(run["state_name"] for run in runs.values())),
        **report,
        "seconds": round(elapsed, 1),
        "lines_per_second": round(report["stored"] / elapsed),
    }


class Prober(threading.Thread):
    """GET /health and GET /flow_runs/{id} in turn, one at a time, recording each latency."""

    def __init__(self, stack: BenchStack, run_id: str) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.run_id = run_id
        self.health: list[float] = []
        self.run_read: list[float] = []
        self.errors = 0  # answers other than 200, and requests that failed
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for path, samples in (
                ("/health", self.health),
                (f"/flow_runs/{self.run_id}", self.run_read),
            ):
                started = time.perf_counter()
                try:
                    ok = self.stack.http.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                samples.append(time.perf_counter() - started)
                self.errors += not ok
            time.sleep(0.05)


def ms(values: list[float], fraction: float) -> float:
    return round(percentile(values, fraction) * 1000, 1)


def under_load(stack: BenchStack, flows: int, seconds: float) -> dict[str, Any]:
    run_ids = start_runs(stack, flows, seconds)
    prober = Prober(stack, run_ids[0])
    prober.start()
    runs = wait_ended(stack, run_ids, seconds * 10 + 60)
    prober.stop.set()
    prober.join()
    states = [run["state_name"] for run in runs.values()]
    return {
        "flows": flows,
        "crashed": states.count("Crashed"),
        "states": dict(Counter(states)),
        **lines_report(stack, runs),
        "health_ms": {"p50": ms(prober.health, 0.5), "p99": ms(prober.health, 0.99)},
        "run_read_ms": {"p50": ms(prober.run_read, 0.5), "p99": ms(prober.run_read, 0.99)},
        "probes": len(prober.health),
        "probe_errors": prober.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flows", type=int, default=20)
    parser.add_argument("--throughput-flows", type=int, default=4)
    args = parser.parse_args()
    server_env = {"HEADRACE_LEASE_SECONDS": "15", "HEADRACE_HEARTBEAT_SECONDS": "3"}
    with bench_stack(
        flow_file=FLOW_FILE, entrypoint="flows/bench.py:chatty", server_env=server_env
    ) as stack:
        stack.start_worker("bench", "loggers", limit=max(args.flows, args.throughput_flows))
        stack.wait_workers_online("bench", 1)
        result = {
            "throughput": throughput(stack, args.throughput_flows, args.seconds),
            "under_load": under_load(stack, args.flows, args.seconds),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
