"""Live run pages without polling: task-run and log ingestion is announced by NOTIFY.

One NOTIFY per ingest batch on a channel of its own, fanned out by the process's one LISTEN to
the SSE stream of the run's page (`/api/events?flow_run=<id>`); the flow-run channel, which wakes
claims and run waiters, carries none of it.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from headrace_service.db import libpq_url
from headrace_service.store.run_activity import RUN_ACTIVITY_CHANNEL

Frame = tuple[str, dict[str, Any]]  # (event name, data); "message" when unnamed


@contextmanager
def sse(url: str) -> Iterator[queue.Queue[Frame]]:
    """Frames of an SSE stream, read by a thread; yields once the server has subscribed."""
    frames: queue.Queue[Frame] = queue.Queue()
    connected = threading.Event()
    client = httpx.Client(timeout=httpx.Timeout(30, read=None))

    def read() -> None:
        name = "message"
        try:
            with client.stream("GET", url) as stream:
                for line in stream.iter_lines():
                    if line == ": connected":  # sent after the subscription is in place
                        connected.set()
                    elif line.startswith("event:"):
                        name = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        frames.put((name, json.loads(line.removeprefix("data:"))))
                        name = "message"
        except httpx.HTTPError:
            pass  # closed by the test

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert connected.wait(10), f"{url} never opened"
    try:
        yield frames
    finally:
        client.close()
        thread.join(5)


def frames_until(frames: queue.Queue[Frame], last: Frame, timeout: float = 10) -> list[Frame]:
    """Every frame up to and including `last` (events of one connection arrive in order)."""
    seen: list[Frame] = []
    while True:
        frame = frames.get(timeout=timeout)
        if frame[0] == "reread":
            continue  # the listener (re)connected: not an ingest event
        seen.append(frame)
        if frame == last:
            return seen


def log_lines(*run_ids: str, per_run: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "logs": [
            {
                "flow_run_id": rid,
                "level": 20,
                "name": "flow",
                "message": f"line {i}",
                "timestamp": now,
            }
            for rid in run_ids
            for i in range(per_run)
        ]
    }


def task_runs(run_id: str, count: int) -> dict[str, Any]:
    return {
        "task_runs": [
            {
                "id": str(uuid.uuid4()),
                "flow_run_id": run_id,
                "name": f"extract-{i}",
                "task_key": "extract",
                "dynamic_key": str(i),
                "run_count": 1,
                "states": [
                    {
                        "id": str(uuid.uuid4()),
                        "type": "RUNNING",
                        "name": "Running",
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                ],
            }
            for i in range(count)
        ]
    }


def new_run(http: httpx.Client, flow: str) -> str:
    response = http.post("/flow_runs", json={"flow_name": flow, "state": {"type": "RUNNING"}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = http.post(path, json=body)
    assert response.status_code < 300, response.text


def test_a_run_stream_hears_each_ingest_batch_of_its_run_once(
    http: httpx.Client, api_url: str
) -> None:
    mine, other = new_run(http, "etl"), new_run(http, "report")
    with sse(f"{api_url}/events?flow_run={mine}") as frames:
        post(http, "/logs", log_lines(mine, other, per_run=20))  # one batch, 40 rows
        post(http, "/task_runs/batch", task_runs(other, 3))  # another run's: not for this page
        post(http, "/task_runs/batch", task_runs(mine, 3))
        post(http, f"/flow_runs/{mine}/set_state", {"state": {"type": "COMPLETED"}})
        state = ("message", {"id": mine, "state_type": "COMPLETED", "work_pool_id": None})
        assert frames_until(frames, state) == [
            ("logs", {"flow_run_id": mine}),
            ("task_runs", {"flow_run_id": mine}),
            state,
        ]


def test_the_flow_run_channel_carries_no_ingest_traffic(http: httpx.Client, api_url: str) -> None:
    # /api/events without a run subscribes like claims and run waiters do: the main channel.
    run = new_run(http, "etl")
    with sse(f"{api_url}/events") as frames:
        post(http, "/logs", log_lines(run, per_run=5))
        post(http, "/task_runs/batch", task_runs(run, 2))
        post(http, f"/flow_runs/{run}/set_state", {"state": {"type": "COMPLETED"}})
        state = ("message", {"id": run, "state_type": "COMPLETED", "work_pool_id": None})
        seen = frames_until(frames, state)
    # Only state changes: the run's RUNNING may come too (its NOTIFY can reach the server's
    # listener after this stream subscribed), its logs and task runs never.
    running = ("message", {"id": run, "state_type": "RUNNING", "work_pool_id": None})
    assert seen in ([state], [running, state])


def test_one_notify_per_batch_naming_only_the_runs_it_touched(
    http: httpx.Client, database_url: str
) -> None:
    first, second = new_run(http, "etl"), new_run(http, "etl")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as listener:
        listener.execute(f'LISTEN "{RUN_ACTIVITY_CHANNEL}"')
        post(http, "/logs", log_lines(first, second, per_run=50))
        post(http, "/task_runs/batch", task_runs(second, 10))
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=10, stop_after=2)]
    assert payloads == [
        {"kind": "logs", "flow_run_ids": sorted([first, second])},
        {"kind": "task_runs", "flow_run_ids": [second]},
    ]
