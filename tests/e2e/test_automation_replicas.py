"""Two API replicas on one database, one of them killed and restarted in the middle: every
event fires its automation once, and each firing's action runs exactly once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import QueueApi
from tests.api.test_automations import wait_for

EVENTS = 60


def send(url: str, first: int, last: int) -> None:
    events = [
        {
            "event": "ping.sent",
            "resource": {"headrace.resource.id": f"ping.{n}"},
            "payload": {"n": n},
        }
        for n in range(first, last)
    ]
    for i in range(0, len(events), 5):
        answer = httpx.post(f"{url}/event_feed", json={"events": events[i : i + 5]}, timeout=30)
        assert answer.status_code == 201, answer.text


def test_two_replicas_and_a_restart_run_each_action_once(
    database_url: str, start_server: Callable[..., Any]
) -> None:
    one = start_server(database_url=database_url)
    two = start_server(database_url=database_url)
    with httpx.Client(base_url=one.url, timeout=30) as http:
        api = QueueApi(http)
        api.pool("p")
        deployment = api.deploy("p", name="pong", flow="pings")
        made = http.post(
            "/automations",
            json={
                "name": "pong",
                "trigger": {"expect": ["ping.*"]},
                "actions": [
                    {
                        "type": "run-deployment",
                        "deployment": "pings/pong",
                        "parameters": {"n": "{{ event.payload.n }}"},
                    }
                ],
            },
        )
        assert made.status_code == 201, made.text

        send(one.url, 0, EVENTS // 3)
        send(two.url, EVENTS // 3, 2 * EVENTS // 3)
        one.process.send_signal(signal.SIGKILL)  # no shutdown: whatever it was doing stops
        one.process.wait(10)
        send(two.url, 2 * EVENTS // 3, EVENTS)
        restarted = start_server(database_url=database_url, port=one.port)

    with httpx.Client(base_url=restarted.url, timeout=30) as http:

        def runs() -> list[dict[str, Any]]:
            answer = http.get(
                "/flow_runs", params={"deployment_id": deployment["id"], "limit": 500}
            )
            items: list[dict[str, Any]] = answer.json()["items"]
            return items if len(items) >= EVENTS else []

        made_runs = wait_for(runs, timeout=60, what=f"{EVENTS} runs")
        time.sleep(2)  # anything extra would show up now
        assert len(runs()) == EVENTS
        assert sorted(int(r["parameters"]["n"]) for r in made_runs) == list(range(EVENTS))
        firings = http.get("/automations/pong/firings", params={"limit": 200}).json()
        assert len(firings) == EVENTS
        assert all(f["actions"][0]["status"] == "executed" for f in firings)
