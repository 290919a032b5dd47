"""`POST /api/flow_runs/{id}/retry`: a Failed or Crashed deployment run goes back to Scheduled
(through the one state-change path) and a worker of its pool claims it as its next attempt."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import QueueApi


def test_a_failed_run_is_scheduled_again_and_claimed(queue_api: QueueApi) -> None:
    queue_api.pool("p")
    run = queue_api.run(queue_api.deploy("p"))
    http = queue_api.http

    waiting = http.post(f"/flow_runs/{run['id']}/retry", json={"from_failure": True})
    assert waiting.status_code == 409
    assert "the run is Scheduled; only a Failed or Crashed run" in waiting.json()["detail"]

    assert queue_api.set_state(run["id"], "FAILED", message="needed.txt").status_code == 201
    retried = http.post(f"/flow_runs/{run['id']}/retry", json={"from_failure": True})
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state_type"], retried.json()["state_name"]) == (
        "SCHEDULED",
        "AwaitingRetry",
    )
    history = queue_api.run_state(run["id"])["states"]
    assert [s["type"] for s in history][-2:] == ["FAILED", "SCHEDULED"]
    assert history[-1]["data"] == {"from_failure": True}
    assert history[-1]["message"] == "retry by hand, from failure"

    worker_id = queue_api.heartbeat("p")["worker_id"]
    claimed = queue_api.claim("p", worker_id)
    assert [c["flow_run"]["id"] for c in claimed] == [run["id"]]


def test_bad_retries_are_4xx_with_the_reason(queue_api: QueueApi, http: httpx.Client) -> None:
    local = http.post("/flow_runs", json={"flow_name": "etl", "state": {"type": "RUNNING"}})
    local_id = local.json()["id"]
    http.post(f"/flow_runs/{local_id}/set_state", json={"state": {"type": "FAILED"}})
    refused = http.post(f"/flow_runs/{local_id}/retry", json={"from_failure": True})
    assert refused.status_code == 409
    assert "not made by a deployment" in refused.json()["detail"]

    missing = http.post(f"/flow_runs/{uuid.uuid4()}/retry", json={})
    assert missing.status_code == 404
    bad_id = http.post("/flow_runs/nope/retry", json={})
    assert bad_id.status_code in (404, 422) and "flow run" in bad_id.json()["detail"]
    unknown = http.post(f"/flow_runs/{local_id}/retry", json={"from_falure": True})
    assert unknown.status_code == 422 and "from_falure" in unknown.json()["detail"]
    # Nothing changed the run.
    assert http.get(f"/flow_runs/{local_id}").json()["state_type"] == "FAILED"
