"""Pickup latency of an idle worker: from the request creating a run to (a) the run claimed,
(b) the run Running (the flow process told the API), (c) the flow's first line running, (d) the
run Completed.

    .venv/bin/python bench/pickup_latency.py [--runs 50] [--start-method fork|spawn]

Starts its own server (embedded PostgreSQL, temporary home) and one `headrace worker start`.
Runs are created one at a time through the API, each after the previous one completed, so the
worker is idle (waiting in a long-poll claim) every time. The flow writes `time.time()` as its
first line; the claim time is the PENDING state's timestamp in the run's history (same host, so
the same clock).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

from _stack import bench_stack, out_folder, summary

from headrace.startup_trace import TRACE_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--start-method", choices=["fork", "spawn"], default="fork")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also print when each step of a run's start happened (HEADRACE_STARTUP_TRACE)",
    )
    args = parser.parse_args()
    created: dict[str, float] = {}
    claimed: list[float] = []
    running: list[float] = []
    first_line: list[float] = []
    completed: list[float] = []
    with bench_stack() as stack:
        trace = stack.folder / "startup-trace.txt"
        if args.trace:
            stack.env[TRACE_ENV] = str(trace)
        stack.start_worker("bench", "idle", 1, "--start-method", args.start_method)
        stack.wait_workers_online("bench", 1)
        out = out_folder(stack)
        for index in range(args.warmup + args.runs):
            time.sleep(0.2)  # the worker is back in its long poll
            started = time.time()
            response = stack.http.post("/deployments/name/touch/bench/runs", json={})
            response.raise_for_status()
            run_id = response.json()["id"]
            marker = out / run_id
            done = None
            while done is None:
                run = stack.http.get(f"/flow_runs/{run_id}").json()
                if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED"):
                    done = time.time()
                else:
                    time.sleep(0.002)
            if run["state_type"] != "COMPLETED":
                raise SystemExit(f"run {run_id} ended {run['state_type']}: {run['state_message']}")
            if index < args.warmup:
                continue
            created[run_id] = started
            pending = next(s for s in run["states"] if s["type"] == "PENDING")
            claimed.append(datetime.fromisoformat(pending["timestamp"]).timestamp() - started)
            began = next(s for s in run["states"] if s["type"] == "RUNNING")
            running.append(datetime.fromisoformat(began["timestamp"]).timestamp() - started)
            first_line.append(float(marker.read_text()) - started)
            end = datetime.fromisoformat(run["end_time"]).timestamp()
            completed.append(min(end, done) - started)
        steps = trace_steps(trace, created) if args.trace else {}
    figures = {
        "runs": args.runs,
        "start_method": args.start_method,
        "create_to_claimed": summary(claimed),
        "create_to_running": summary(running),
        "create_to_first_line": summary(first_line),
        "create_to_completed": summary(completed),
    }
    if args.trace:
        # From the create request to each step, in the order the steps happened (p50).
        figures["create_to_step"] = steps
    print(json.dumps(figures, indent=2))


def trace_steps(trace: Path, created: dict[str, float]) -> dict[str, dict[str, float]]:
    """Each traced step's delay after the create request, over the measured runs."""
    delays: dict[str, list[float]] = {}
    for line in trace.read_text().splitlines():
        at, _pid, step, run_id = line.split(" ")
        if run_id in created:
            delays.setdefault(step, []).append(float(at) - created[run_id])
    return dict(sorted(((s, summary(d)) for s, d in delays.items()), key=lambda i: i[1]["p50_ms"]))


if __name__ == "__main__":
    main()
