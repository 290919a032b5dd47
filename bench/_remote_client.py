"""Run on a worker host by bench/remote_hosts.py: the cost of requests to the API over the link,
with the SDK's own client (HEADRACE_API_URL, HEADRACE_API_KEY, HEADRACE_API_CA_FILE).

    python _remote_client.py REQUESTS   -> one JSON object on stdout (seconds per request)

- `report`: one task run (with its Completed state) per POST /task_runs/batch, on one kept-alive
  connection: what a flow's reporter pays per batch.
- `health_kept`: GET /health on one kept-alive connection.
- `health_new`: GET /health, each with a new client (a new TCP, and TLS, handshake).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from _stack import summary

from headrace.client import HeadraceClient, flow_runs, task_runs
from headrace.schemas.flow_runs import FlowRunCreate
from headrace.schemas.task_runs import TaskRunBatch, TaskRunReport, TaskRunStateReport


def timed(count: int, call: Callable[[int], object]) -> list[float]:
    spent = []
    for index in range(count):
        started = time.perf_counter()
        call(index)
        spent.append(time.perf_counter() - started)
    return spent


def main() -> None:
    count = int(sys.argv[1])
    with HeadraceClient(retries=0) as client:
        run = flow_runs.create(client, FlowRunCreate(flow_name="bench-remote-hosts"))

        def report(index: int) -> None:
            now = datetime.now(UTC)
            state = TaskRunStateReport(
                id=uuid.uuid4(), type="COMPLETED", name="Completed", timestamp=now
            )
            task_run = TaskRunReport(
                id=uuid.uuid4(),
                flow_run_id=run.id,
                name=f"step-{index}",
                task_key="step",
                dynamic_key=str(index),
                states=[state],
            )
            task_runs.report(client, TaskRunBatch(task_runs=[task_run]))

        def health_kept(index: int) -> None:
            client.request("GET", "/health")

        timed(10, health_kept)  # warm-up: connection made, server caches hot
        results = {
            "report": summary(timed(count, report)),
            "health_kept": summary(timed(count, health_kept)),
        }

    def health_new(index: int) -> None:
        with HeadraceClient(retries=0) as fresh:
            fresh.request("GET", "/health")

    results["health_new"] = summary(timed(max(count // 4, 10), health_new))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
