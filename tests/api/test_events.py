"""Events through a real server: state changes of runs, resource changes, emit_event, filters."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from headrace import flow, task
from headrace.events import emit_event, flush_events


def _wait_for(read: Callable[[], list[dict[str, Any]]], count: int) -> list[dict[str, Any]]:
    """The events `read` returns once there are `count` of them (the relay runs every 0.5 s)."""
    deadline = time.monotonic() + 15
    while True:
        found = read()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _events(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = http.get("/event_feed", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="evented")
def evented(x: int) -> int:
    emit_event(
        event="orders.refreshed",
        resource={"headrace.resource.id": "warehouse.orders", "table": "orders"},
        payload={"rows": 12},
    )
    return double(x)


def test_a_flow_run_makes_its_state_events_in_order(http: httpx.Client) -> None:
    assert evented(4) == 8
    assert flush_events(10)
    run = http.get("/flow_runs", params={"flow_name": "evented"}).json()["items"][0]
    resource = f"headrace.flow-run.{run['id']}"

    # A flow called in process is created Running (no worker hands it out).
    states = _wait_for(lambda: _events(http, resource=resource), 2)
    oldest_first = list(reversed(states))  # pages are newest first
    assert [e["event"] for e in oldest_first] == [
        "headrace.flow-run.Running",
        "headrace.flow-run.Completed",
    ]
    assert oldest_first[0]["occurred"] <= oldest_first[1]["occurred"]
    completed = oldest_first[-1]
    assert completed["resource"]["headrace.resource.name"] == run["name"]
    assert completed["resource"]["headrace.state-type"] == "COMPLETED"
    roles = {r["headrace.resource.role"]: r for r in completed["related"]}
    assert roles["flow"]["headrace.resource.name"] == "evented"
    assert completed["payload"]["validated_state"] == {"type": "COMPLETED", "name": "Completed"}

    # The task run's states, related to the flow run.
    tasks = _wait_for(lambda: _events(http, name="headrace.task-run.", related=resource), 2)
    assert {e["event"] for e in tasks} >= {
        "headrace.task-run.Running",
        "headrace.task-run.Completed",
    }

    # The event the flow emitted: filterable by name, resource, label and its run.
    emitted = _events(http, name="orders.", label="table=orders", related=resource)
    assert [e["event"] for e in emitted] == ["orders.refreshed"]
    assert emitted[0]["payload"] == {"rows": 12}
    assert emitted[0]["resource"]["headrace.resource.id"] == "warehouse.orders"
    assert _events(http, name="orders.", label="table=customers") == []


def test_emit_event_outside_a_flow_reaches_the_api(http: httpx.Client) -> None:
    made = emit_event(event="plain.code.ran", resource={"headrace.resource.id": "script.1"})
    assert made is not None
    assert flush_events(10)
    stored = _events(http, resource="script.1")
    assert [e["id"] for e in stored] == [str(made.id)]
    counts = http.get("/event_feed/count", params={"name": "plain."}).json()
    assert counts == [{"event": "plain.code.ran", "count": 1}]


def test_resource_changes_are_events(http: httpx.Client) -> None:
    assert http.post("/work_pools", json={"name": "ev-pool"}).status_code == 201
    assert http.patch("/work_pools/ev-pool", json={"paused": True}).status_code == 200
    made = http.post("/work_pools/ev-pool/queues", json={"name": "fast"})
    assert made.status_code == 201
    assert http.delete("/work_pools/ev-pool").status_code == 204
    names = [e["event"] for e in reversed(_events(http, name="headrace.work-"))]
    assert names == [
        "headrace.work-pool.created",
        "headrace.work-pool.updated",
        "headrace.work-queue.created",
        "headrace.work-pool.deleted",
    ]
    updated = _events(http, name="headrace.work-pool.updated")[0]
    assert updated["payload"] == {"changes": {"paused": True}}


def test_keyset_pages_walk_every_event_once(http: httpx.Client) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [
        {
            "event": f"page.test.{i % 3}",
            "occurred": (base + timedelta(seconds=i // 2)).isoformat(),
            "resource": {"headrace.resource.id": f"r.{i}"},
        }
        for i in range(25)
    ]
    answer = http.post("/event_feed", json={"events": batch})
    assert answer.status_code == 201 and answer.json() == {"accepted": 25}
    seen: list[str] = []
    page = None
    while True:
        params: dict[str, Any] = {"name": "page.test.", "limit": 7}
        if page:
            params["page"] = page
        body = http.get("/event_feed", params=params).json()
        seen += [e["resource"]["headrace.resource.id"] for e in body["items"]]
        page = body["next_page"]
        if page is None:
            break
    assert sorted(seen) == sorted(f"r.{i}" for i in range(25))
    assert len(seen) == 25
    window = _events(
        http,
        name="page.test.",
        since=(base + timedelta(seconds=3)).isoformat(),
        until=(base + timedelta(seconds=5)).isoformat(),
    )
    assert sorted(e["resource"]["headrace.resource.id"] for e in window) == [
        "r.6",
        "r.7",
        "r.8",
        "r.9",
    ]


def test_a_batch_sent_twice_is_stored_once(http: httpx.Client) -> None:
    event = {"id": str(uuid.uuid4()), "event": "twice", "resource": {"headrace.resource.id": "t"}}
    assert http.post("/event_feed", json={"events": [event]}).json() == {"accepted": 1}
    assert http.post("/event_feed", json={"events": [event]}).json() == {"accepted": 0}
    assert len(_events(http, name="twice")) == 1


def test_bad_events_are_422_naming_the_field(http: httpx.Client) -> None:
    no_id = http.post("/event_feed", json={"events": [{"event": "x", "resource": {"a": "b"}}]})
    assert no_id.status_code == 422
    assert "events.0.resource" in no_id.text and "headrace.resource.id" in no_id.text
    too_many = [{"event": "x", "resource": {"headrace.resource.id": "r"}}] * 2001
    big = http.post("/event_feed", json={"events": too_many})
    assert big.status_code == 422 and "events" in big.text
    huge = http.post(
        "/event_feed",
        json={
            "events": [
                {
                    "event": "x",
                    "resource": {"headrace.resource.id": "r"},
                    "payload": {"blob": "x" * 70_000},
                }
            ]
        },
    )
    assert huge.status_code == 422 and "payload" in huge.text
    label = http.get("/event_feed", params={"label": "novalue"})
    assert label.status_code == 422 and "query.label" in label.text
    page = http.get("/event_feed", params={"page": "nonsense"})
    assert page.status_code == 422 and "query.page" in page.text
    limit = http.get("/event_feed", params={"limit": 5000})
    assert limit.status_code == 422 and "limit" in limit.text


def test_a_deployment_run_through_a_worker_makes_every_state_event_in_order(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("ev-work")
    deployment = queue_api.deploy("ev-work", name="nightly", flow="etl", tags=["finance"])
    run = queue_api.run(deployment)
    worker = queue_api.heartbeat("ev-work")["worker_id"]
    [claimed] = queue_api.claim("ev-work", worker)
    assert claimed["flow_run"]["id"] == run["id"]
    assert queue_api.set_state(run["id"], "RUNNING", worker).status_code == 201
    assert queue_api.set_state(run["id"], "COMPLETED", worker).status_code == 201
    resource = f"headrace.flow-run.{run['id']}"
    states = _wait_for(lambda: _events(http, resource=resource), 4)
    assert [e["event"] for e in reversed(states)] == [
        "headrace.flow-run.Scheduled",
        "headrace.flow-run.Pending",
        "headrace.flow-run.Running",
        "headrace.flow-run.Completed",
    ]
    running = states[1]
    assert running["payload"]["initial_state"] == {"type": "PENDING", "name": "Pending"}
    related = {r["headrace.resource.role"]: r["headrace.resource.id"] for r in running["related"]}
    assert related == {
        "flow": f"headrace.flow.{deployment['flow_id']}",
        "deployment": f"headrace.deployment.{deployment['id']}",
        "work-pool": related["work-pool"],
        "tag": "headrace.tag.finance",
    }
    assert related["work-pool"].startswith("headrace.work-pool.")
    # The deployment's run is found through its deployment, and counted by name.
    by_deployment = _events(http, related=f"headrace.deployment.{deployment['id']}")
    assert len(by_deployment) == 4
    counts = http.get("/event_feed/count", params={"name": "headrace.flow-run."}).json()
    assert {c["event"]: c["count"] for c in counts} == {
        "headrace.flow-run.Scheduled": 1,
        "headrace.flow-run.Pending": 1,
        "headrace.flow-run.Running": 1,
        "headrace.flow-run.Completed": 1,
    }
    created = _events(http, name="headrace.deployment.created")
    assert created[0]["resource"]["headrace.resource.name"] == "nightly"


def test_a_bad_stream_filter_is_422_before_the_stream_opens(http: httpx.Client) -> None:
    misspelt = http.get("/event_feed/stream", params={"nmae": "headrace."})
    assert misspelt.status_code == 422 and "query.nmae" in misspelt.text
    label = http.get("/event_feed/stream", params={"label": "novalue"})
    assert label.status_code == 422 and "query.label" in label.text
    after = http.get("/event_feed/stream", params={"after": "-1"})
    assert after.status_code == 422 and "after" in after.text


def test_workers_going_online_and_offline_are_events(http: httpx.Client) -> None:
    assert http.post("/work_pools", json={"name": "ev-workers"}).status_code == 201
    beat = {"name": "w-ev", "heartbeat_interval_seconds": 0.3}
    first = http.post("/work_pools/ev-workers/workers/heartbeat", json=beat)
    assert first.status_code == 200, first.text
    worker = f"headrace.worker.{first.json()['worker_id']}"
    # Heartbeats while online make no event.
    assert http.post("/work_pools/ev-workers/workers/heartbeat", json=beat).status_code == 200
    # Silent for more than 3 heartbeats: offline, recorded by the relay loop (once).
    went = _wait_for(lambda: _events(http, resource=worker, name="headrace.worker.off"), 1)
    assert [e["event"] for e in went] == ["headrace.worker.offline"]
    assert went[0]["related"][0]["headrace.resource.name"] == "ev-workers"
    assert http.post("/work_pools/ev-workers/workers/heartbeat", json=beat).status_code == 200
    names = [e["event"] for e in reversed(_events(http, resource=worker))]
    assert names[:3] == [
        "headrace.worker.online",
        "headrace.worker.offline",
        "headrace.worker.online",
    ]
    # Many relay passes later: one offline event per silence (the first, and the one after the
    # last heartbeat), however many passes saw each.
    time.sleep(2)
    offline = _events(http, resource=worker, name="headrace.worker.offline")
    assert len(offline) == 2
