"""Work pools, queues and worker heartbeats through the real HTTP API."""

from __future__ import annotations

from typing import Any

import httpx


def test_create_pool_makes_a_default_queue_and_refuses_a_duplicate(
    http: httpx.Client, queue_api: Any
) -> None:
    pool = queue_api.pool("nightly", concurrency_limit=3)
    assert pool["type"] == "process" and pool["concurrency_limit"] == 3
    assert pool["workers_online"] == 0 and pool["runs_waiting"] == 0
    queues = http.get("/work_pools/nightly/queues").json()
    assert [q["name"] for q in queues] == ["default"]
    again = http.post("/work_pools", json={"name": "nightly"})
    assert again.status_code == 409 and "--overwrite" in again.json()["detail"]
    replaced = http.post("/work_pools?overwrite=true", json={"name": "nightly", "paused": True})
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["paused"] is True and replaced.json()["concurrency_limit"] is None
    assert replaced.json()["id"] == pool["id"]


def test_any_well_formed_pool_type_is_accepted(http: httpx.Client) -> None:
    # Pool types are worker plug-ins: the pool may be made before any worker of its type exists.
    created = http.post("/work_pools", json={"name": "p", "type": "kubernetes"})
    assert created.status_code == 201 and created.json()["type"] == "kubernetes"
    assert http.post("/work_pools", json={"name": "q", "type": ""}).status_code == 422


def test_list_read_pause_limit_and_delete(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("a")
    queue_api.pool("b")
    assert [p["name"] for p in http.get("/work_pools").json()] == ["a", "b"]
    paused = http.patch("/work_pools/a", json={"paused": True, "concurrency_limit": 2}).json()
    assert paused["paused"] is True and paused["concurrency_limit"] == 2
    unlimited = http.patch("/work_pools/a", json={"concurrency_limit": None}).json()
    assert unlimited["concurrency_limit"] is None and unlimited["paused"] is True
    bad = http.patch("/work_pools/a", json={"paused": None})
    assert bad.status_code == 422 and "body.paused" in bad.json()["detail"]
    assert http.delete("/work_pools/a").status_code == 204
    missing = http.get("/work_pools/a")
    assert missing.status_code == 404 and "headrace work-pool create a" in missing.json()["detail"]


def test_queues_create_pause_and_priority(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    created = queue_api.queue("p", "urgent", priority=1, concurrency_limit=4)
    assert created["work_pool_name"] == "p" and created["concurrency_limit"] == 4
    assert http.post("/work_pools/p/queues", json={"name": "urgent"}).status_code == 409
    changed = http.patch("/work_pools/p/queues/urgent", json={"paused": True, "priority": 7})
    assert changed.status_code == 200 and changed.json()["priority"] == 7
    assert changed.json()["paused"] is True
    assert http.get("/work_pools/p/queues/nope").status_code == 404


def test_heartbeat_registers_a_worker_that_shows_online(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    first = queue_api.heartbeat("p", "host-1")
    second = queue_api.heartbeat("p", "host-1")
    assert first["worker_id"] == second["worker_id"]
    assert first["lease_seconds"] == 30 and first["heartbeat_seconds"] == 10
    workers = http.get("/work_pools/p/workers").json()
    assert [(w["name"], w["status"]) for w in workers] == [("host-1", "ONLINE")]
    assert http.get("/work_pools/p").json()["workers_online"] == 1


def test_a_worker_announces_its_pool_type_when_it_registers(http: httpx.Client) -> None:
    http.post("/work_pools", json={"name": "p", "type": "second"})
    schema = {"type": "object", "properties": {"image": {"type": "string"}}}
    registered = http.post(
        "/work_pools/p/workers/heartbeat",
        json={"name": "w", "announcement": {"type": "second", "job_variables_schema": schema}},
    )
    assert registered.status_code == 200, registered.text
    # Later heartbeats need not repeat it.
    assert http.post("/work_pools/p/workers/heartbeat", json={"name": "w"}).status_code == 200
    [worker] = http.get("/work_pools/p/workers").json()
    assert (worker["pool_type"], worker["job_variables_schema"]) == ("second", schema)


def test_worker_goes_offline_after_missed_heartbeats(
    http: httpx.Client, queue_api: Any, sql: Any
) -> None:
    queue_api.pool("p")
    queue_api.heartbeat("p", "host-1")
    sql.execute("UPDATE worker SET last_heartbeat = now() - interval '1 minute'")
    assert http.get("/work_pools/p/workers").json()[0]["status"] == "OFFLINE"
    assert http.get("/work_pools/p").json()["workers_online"] == 0


def test_heartbeat_to_a_missing_pool_is_404(http: httpx.Client) -> None:
    response = http.post("/work_pools/nope/workers/heartbeat", json={"name": "w"})
    assert response.status_code == 404
