"""Deployments and their runs through the real HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

SCHEMA = {
    "type": "object",
    "properties": {"day": {"type": "string"}, "rows": {"type": "integer"}},
    "required": ["day"],
}


def test_deploy_twice_updates_the_same_deployment(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    first = queue_api.deploy("p", parameters={"day": "2026-11-24"}, parameter_schema=SCHEMA)
    second = queue_api.deploy("p", parameters={"day": "2026-11-25"}, version="2", retries=2)
    assert second["id"] == first["id"]
    assert second["parameters"] == {"day": "2026-11-25"} and second["version"] == "2"
    assert second["retries"] == 2 and second["work_queue_name"] == "default"
    assert second["path"] == "/srv/code" and second["entrypoint"] == "flows/etl.py:etl"
    listed = http.get("/deployments").json()
    assert [(d["flow_name"], d["name"]) for d in listed] == [("etl", "daily")]
    by_name = http.get("/deployments/name/etl/daily").json()
    assert by_name["id"] == first["id"] and by_name["work_pool_name"] == "p"


def test_deploy_to_a_missing_pool_or_queue_is_422(http: httpx.Client, queue_api: Any) -> None:
    body = {"flow_name": "etl", "name": "d", "entrypoint": "a.py:f", "path": "/srv"}
    missing_pool = http.post("/deployments", json={**body, "work_pool_name": "nope"})
    assert missing_pool.status_code == 422
    assert "headrace work-pool create nope" in missing_pool.json()["detail"]
    queue_api.pool("p")
    missing_queue = http.post(
        "/deployments", json={**body, "work_pool_name": "p", "work_queue_name": "fast"}
    )
    assert missing_queue.status_code == 422 and "fast" in missing_queue.json()["detail"]
    relative = http.post("/deployments", json={**body, "work_pool_name": "p", "path": "code"})
    assert relative.status_code == 422 and "absolute" in relative.json()["detail"]
    bad_default = http.post(
        "/deployments",
        json={
            **body,
            "work_pool_name": "p",
            "parameter_schema": SCHEMA,
            "parameters": {"rows": "x"},
        },
    )
    assert bad_default.status_code == 422
    assert "body.parameters.rows" in bad_default.json()["detail"]


def test_run_merges_defaults_and_waits_scheduled_in_the_pool(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("p")
    queue_api.queue("p", "fast", priority=1)
    deployment = queue_api.deploy(
        "p",
        parameters={"day": "2026-11-24", "rows": 5},
        parameter_schema=SCHEMA,
        work_queue_name="fast",
        tags=["etl"],
        retries=1,
    )
    run = queue_api.run(deployment, parameters={"day": "2026-11-25"}, tags=["manual"])
    assert run["state_type"] == "SCHEDULED" and run["state_name"] == "Scheduled"
    assert run["parameters"] == {"day": "2026-11-25", "rows": 5}
    assert run["tags"] == ["etl", "manual"] and run["max_retries"] == 1
    assert run["deployment_name"] == "daily" and run["work_pool_name"] == "p"
    assert run["work_queue_name"] == "fast"
    by_name = http.post("/deployments/name/etl/daily/runs", json={})
    assert by_name.status_code == 201 and by_name.json()["parameters"]["day"] == "2026-11-24"
    assert http.get("/work_pools/p").json()["runs_waiting"] == 2


def test_bad_parameters_are_422_naming_the_parameter(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    deployment = queue_api.deploy("p", parameter_schema=SCHEMA)
    wrong_type = http.post(
        f"/deployments/{deployment['id']}/runs", json={"parameters": {"day": "x", "rows": "many"}}
    )
    assert wrong_type.status_code == 422
    assert "parameters.rows" in wrong_type.json()["detail"]
    missing = http.post(f"/deployments/{deployment['id']}/runs", json={})
    assert missing.status_code == 422 and "parameters.day" in missing.json()["detail"]
    assert http.get("/flow_runs").json()["items"] == []


def test_idempotency_key_gives_the_same_run_scoped_by_deployment(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("p")
    one = queue_api.deploy("p", name="one")
    two = queue_api.deploy("p", name="two")
    headers = {"Idempotency-Key": "ci-build-42"}
    first = http.post(f"/deployments/{one['id']}/runs", json={}, headers=headers)
    again = http.post("/deployments/name/etl/one/runs", json={}, headers=headers)
    other = http.post(f"/deployments/{two['id']}/runs", json={}, headers=headers)
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert len(http.get("/flow_runs").json()["items"]) == 2


def test_pause_resume_and_delete(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    deployment = queue_api.deploy("p")
    paused = http.patch(f"/deployments/{deployment['id']}", json={"paused": True})
    assert paused.json()["paused"] is True
    # A paused deployment still takes runs asked for by hand (pausing stops its schedules).
    run = queue_api.run(deployment)
    assert (
        http.patch(f"/deployments/{deployment['id']}", json={"paused": False}).json()["paused"]
        is False
    )
    assert http.delete(f"/deployments/{deployment['id']}").status_code == 204
    assert http.get(f"/deployments/{deployment['id']}").status_code == 404
    assert queue_api.run_state(run["id"])["state_type"] == "CANCELLED"
    assert http.get("/deployments/name/etl/daily").status_code == 404
    assert http.get("/deployments/not-a-uuid").status_code == 404
