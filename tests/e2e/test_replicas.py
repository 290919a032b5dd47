"""Two API replicas on one database: same data, no run handed out twice, live events shared."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

RUNS = 200


def test_two_replicas_share_data_claims_and_events(
    start_server: Callable[..., Any], database_url: str, tmp_path: Path
) -> None:
    a = start_server(database_url=database_url)
    b = start_server(database_url=database_url)

    # Same data through either replica.
    run = httpx.post(a.url + "/flow_runs", json={"flow_name": "shared"}).json()
    assert httpx.get(f"{b.url}/flow_runs/{run['id']}").json()["flow_name"] == "shared"

    # A change made through A reaches a live event stream opened on B.
    subscribed = threading.Event()
    seen = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream("GET", b.url + "/events", timeout=30) as stream:
                for line in stream.iter_lines():
                    if line == ": connected":  # sent once B's subscription is in place
                        subscribed.set()
                    elif line.startswith("data:") and run["id"] in line:
                        event = json.loads(line.removeprefix("data:"))
                        if event.get("state_type") == "RUNNING":
                            seen.set()
                            return
        except httpx.HTTPError:
            pass  # the servers stopped: the assertions below say what was missed

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    # Only a real change is announced (resending the same state is not), so change it once the
    # stream is known to listen.
    assert subscribed.wait(30), "B's event stream did not open"
    httpx.post(f"{a.url}/flow_runs/{run['id']}/set_state", json={"state": {"type": "RUNNING"}})
    assert seen.wait(30), "B's event stream never saw the change made through A"

    # Claims through both replicas at once never hand out a run twice.
    httpx.post(a.url + "/work_pools", json={"name": "replicas", "type": "process"})
    deployment = httpx.post(
        a.url + "/deployments",
        json={
            "flow_name": "shared",
            "name": "many",
            "entrypoint": "flows.py:shared",
            "path": str(tmp_path),
            "work_pool_name": "replicas",
        },
    ).json()
    with httpx.Client(timeout=30) as http:
        for _ in range(RUNS):
            created = http.post(f"{a.url}/deployments/{deployment['id']}/runs", json={})
            assert created.status_code == 201, created.text
    workers = {
        name: httpx.post(
            f"{url}/work_pools/replicas/workers/heartbeat", json={"name": name}
        ).json()["worker_id"]
        for name, url in (("on-a", a.url), ("on-b", b.url))
    }

    def drain(url: str, worker_id: str) -> list[str]:
        taken: list[str] = []
        with httpx.Client(timeout=30) as http:
            while True:
                batch = http.post(
                    f"{url}/work_pools/replicas/claim", json={"worker_id": worker_id, "limit": 5}
                ).json()
                if not batch:
                    return taken
                taken.extend(item["flow_run"]["id"] for item in batch)

    jobs = [(a.url, workers["on-a"])] * 3 + [(b.url, workers["on-b"])] * 3
    with ThreadPoolExecutor(len(jobs)) as pool:
        claimed = [rid for part in pool.map(lambda job: drain(*job), jobs) for rid in part]
    assert len(claimed) == RUNS
    assert len(set(claimed)) == RUNS
