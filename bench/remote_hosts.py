"""Workers on another host, over a veth link, with and without TLS, side by side: pickup latency
of an idle worker on a worker host, and the cost of its requests (task-run reports, health
checks on a kept-alive connection and on new connections); the TLS cost per request printed.

    sudo .venv/bin/python bench/remote_hosts.py [--runs 30] [--requests 400]

Needs root and iproute2: the hosts are network namespaces (tests/hosts/netns.py) and the stack
is the tests' (tests/hosts/stack.py): the server on the API host's bridge address with auth on
and its embedded PostgreSQL, one worker (`--limit 1`) on worker host w1, the flow deployed as an
uploaded bundle from the CI host. First plain http (HEADRACE_ALLOW_INSECURE_HTTP=true), then
https with a certificate of a CA made for the run (HEADRACE_API_CA_FILE), same database.
Pickup latency is measured as in bench/pickup_latency.py: one run at a time, the worker idle in
its long poll; claimed = the PENDING state's timestamp, first line = the flow's first ledger line,
completed = the run's end time, each minus the moment the run was created (one machine clock).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from _stack import summary

BENCH = Path(__file__).resolve().parent
HOSTS = BENCH.parent / "tests" / "hosts"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_hosts_{name}", HOSTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pickup(stack: Any, runs: int, warmup: int) -> dict[str, Any]:
    claimed, first_line, completed = [], [], []
    with stack.http() as http:
        for index in range(warmup + runs):
            time.sleep(0.2)  # the worker is back in its long poll
            created = time.time()
            made = http.post(
                "/deployments/name/record/d/runs",
                json={"parameters": {"ledger": str(stack.ledger_path), "n": index}},
            )
            made.raise_for_status()
            run_id = made.json()["id"]
            while (run := http.get(f"/flow_runs/{run_id}").json())["end_time"] is None:
                time.sleep(0.002)
            if run["state_type"] != "COMPLETED":
                raise SystemExit(f"run {run_id} ended {run['state_type']}: {run['state_message']}")
            if index < warmup:
                continue
            pending = next(s for s in run["states"] if s["type"] == "PENDING")
            start = next(e for e in stack.ledger() if e["run"] == run_id and e["event"] == "start")
            claimed.append(datetime.fromisoformat(pending["timestamp"]).timestamp() - created)
            first_line.append(start["t"] - created)
            completed.append(datetime.fromisoformat(run["end_time"]).timestamp() - created)
    return {
        "claimed": summary(claimed),
        "first_line": summary(first_line),
        "completed": summary(completed),
    }


def measure(stack: Any, tls: Any, args: argparse.Namespace, first: bool) -> dict[str, Any]:
    stack.start_api(tls=tls)
    stack.deploy_record("remote", create_pool=first)
    stack.start_worker("w1", "remote", "--limit", "1")
    try:
        result = {"pickup": pickup(stack, args.runs, args.warmup)}
        out = stack.python("w1", BENCH / "_remote_client.py", str(args.requests))
        result["requests"] = json.loads(out)
        return result
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    netns, stack_module, certs = load("netns"), load("stack"), load("certs")
    if reason := netns.available():
        raise SystemExit(f"cannot make hosts: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="hrr-", dir="/tmp"))
    network = netns.Network(folder)
    results: dict[str, Any] = {}
    try:
        hosts = network.open(["w1", "ci"])
        stack = stack_module.HostStack(hosts, None, 4200)
        # The PYTHONPATH of the scripts on the worker host: bench/ for _stack.summary.
        os.environ["PYTHONPATH"] = str(BENCH)
        results["http"] = measure(stack, None, args, first=True)
        tls = certs.make_server_certificate(folder / "tls", [hosts["api"].address])
        results["https"] = measure(stack, tls, args, first=False)
    finally:
        network.close()
    print(json.dumps(results, indent=1))
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(f"{'median, ms':<36}{'http':>10}{'https':>10}{'TLS cost':>10}")
    rows = [
        ("pickup: run claimed", ("pickup", "claimed", "p50_ms")),
        ("pickup: flow's first line", ("pickup", "first_line", "p50_ms")),
        ("pickup: run completed", ("pickup", "completed", "p50_ms")),
        ("task-run report (kept-alive)", ("requests", "report", "p50_ms")),
        ("GET /health (kept-alive)", ("requests", "health_kept", "p50_ms")),
        ("GET /health (new connection)", ("requests", "health_new", "p50_ms")),
    ]
    for label, (part, name, key) in rows:
        plain, secure = results["http"][part][name][key], results["https"][part][name][key]
        print(f"{label:<36}{plain:>10.1f}{secure:>10.1f}{secure - plain:>+10.1f}")


if __name__ == "__main__":
    main()
