"""Automations: event -> action latency, for an event sent to the API and for a flow run state
change (through the outbox relay).

    .venv/bin/python bench/automation_latency.py [--events 100]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py) with one deployment,
then, one at a time (each waits for the previous action's outcome):
1. `emitted`: POST one event `bench.ping` to /api/event_feed; an automation runs the deployment.
2. `state_change`: a run of the deployment goes Running -> Failed through the API; an automation
   on `headrace.flow-run.Failed` of that deployment runs it again.
The latency of one firing is its action's `updated` (the transaction that created the run)
minus the event's `occurred` (when the server received it / the state change), both from the
database's clock. Prints one JSON line per path: p50/p95/p99/max in ms.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

import httpx
from _stack import bench_stack, percentile


def automation(http: httpx.Client, name: str, trigger: dict[str, Any]) -> None:
    body = {
        "name": name,
        "trigger": trigger,
        "actions": [{"type": "run-deployment", "deployment": "touch/bench"}],
    }
    answer = http.post("/automations", json=body)
    assert answer.status_code == 201, answer.text


def finished(http: httpx.Client, name: str, count: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        firings = http.get(f"/automations/{name}/firings", params={"limit": 200}).json()
        done = [f for f in firings if f["actions"][0]["status"] == "executed"]
        if len(done) >= count:
            return list(done)
        time.sleep(0.01)
    raise SystemExit(f"{name}: {count} firings not executed within {timeout}s")


def latencies(firings: list[Any]) -> list[float]:
    return [
        (
            datetime.fromisoformat(f["actions"][0]["updated"])
            - datetime.fromisoformat(f["event"]["occurred"])
        ).total_seconds()
        for f in firings
    ]


def report(path: str, values: list[float]) -> None:
    figures = {
        f"p{int(q * 100)}_ms": round(percentile(values, q) * 1000, 1) for q in (0.5, 0.95, 0.99)
    }
    print(
        json.dumps(
            {
                "path": path,
                "firings": len(values),
                **figures,
                "max_ms": round(max(values) * 1000, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    with bench_stack() as stack:
        http = stack.http
        deployment = http.get("/deployments/name/touch/bench").json()
        automation(http, "bench-emitted", {"expect": ["bench.ping"]})
        for i in range(args.events):
            body = {
                "events": [
                    {"event": "bench.ping", "resource": {"headrace.resource.id": f"bench.{i}"}}
                ]
            }
            assert http.post("/event_feed", json=body).status_code == 201
            finished(http, "bench-emitted", i + 1)
        report("emitted", latencies(finished(http, "bench-emitted", args.events)))

        automation(
            http,
            "bench-state-change",
            {
                "expect": ["headrace.flow-run.Failed"],
                "match_related": {
                    "headrace.resource.id": f"headrace.deployment.{deployment['id']}"
                },
            },
        )
        for i in range(args.events):
            run = http.post(f"/deployments/{deployment['id']}/runs", json={}).json()
            for state in ("RUNNING", "FAILED"):
                answer = http.post(
                    f"/flow_runs/{run['id']}/set_state", json={"state": {"type": state}}
                )
                assert answer.status_code == 201, answer.text
            finished(http, "bench-state-change", i + 1)
        report("state_change", latencies(finished(http, "bench-state-change", args.events)))


if __name__ == "__main__":
    main()
