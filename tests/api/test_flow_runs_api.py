"""Flow runs through the real HTTP API on a real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx


def create_run(http: httpx.Client, **body: object) -> dict[str, object]:
    payload = {"flow_name": "etl", "state": {"type": "RUNNING"}, **body}
    response = http.post("/flow_runs", json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_create_read_and_complete_a_run(http: httpx.Client) -> None:
    run = create_run(http, parameters={"day": "2026-11-24"}, tags=["nightly"])
    assert run["state_type"] == "RUNNING" and run["run_count"] == 1
    done = http.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "COMPLETED"}})
    assert done.status_code == 201, done.text
    detail = http.get(f"/flow_runs/{run['id']}").json()
    assert detail["state_name"] == "Completed"
    assert detail["end_time"] is not None
    assert detail["parameters"] == {"day": "2026-11-24"}
    assert [s["type"] for s in detail["states"]] == ["RUNNING", "COMPLETED"]


def test_refused_transition_is_409_with_reason_and_changes_nothing(http: httpx.Client) -> None:
    run = create_run(http)
    http.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "COMPLETED"}})
    refused = http.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "RUNNING"}})
    assert refused.status_code == 409
    assert "already finished as Completed" in refused.json()["detail"]
    detail = http.get(f"/flow_runs/{run['id']}").json()
    assert detail["state_type"] == "COMPLETED" and len(detail["states"]) == 2


def test_repeated_transition_writes_one_history_row(http: httpx.Client) -> None:
    run = create_run(http)
    for _ in range(2):
        answer = http.post(
            f"/flow_runs/{run['id']}/set_state",
            json={"state": {"type": "FAILED", "message": "boom"}},
        )
        assert answer.status_code == 201
    states = http.get(f"/flow_runs/{run['id']}").json()["states"]
    assert [s["type"] for s in states] == ["RUNNING", "FAILED"]


def test_list_filters_by_flow_and_state_newest_first(http: httpx.Client) -> None:
    first = create_run(http, flow_name="a")
    second = create_run(http, flow_name="a")
    create_run(http, flow_name="b")
    http.post(f"/flow_runs/{first['id']}/set_state", json={"state": {"type": "COMPLETED"}})
    listing = http.get("/flow_runs", params={"flow_name": "a"}).json()["items"]
    assert [r["id"] for r in listing] == [second["id"], first["id"]]
    done = http.get("/flow_runs", params={"state_type": "COMPLETED"}).json()["items"]
    assert [r["id"] for r in done] == [first["id"]]
    assert http.get("/flow_runs", params={"limit": 1}).json()["items"][0]["flow_name"] == "b"


def test_bad_input_is_4xx_with_field_and_reason(http: httpx.Client) -> None:
    missing = http.post("/flow_runs", json={"flow_name": "x", "parameters": "not a dict"})
    assert missing.status_code == 422
    assert "body.parameters" in missing.json()["detail"]
    unknown = http.get(f"/flow_runs/{uuid.uuid4()}")
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
    assert http.get("/flow_runs/not-a-uuid").status_code == 404
    bad_state = http.get("/flow_runs", params={"state_type": "NOPE"})
    assert bad_state.status_code == 422 and "NOPE" in bad_state.json()["detail"]
    not_json = http.post("/flow_runs", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["detail"]
    too_big = http.post("/flow_runs", content=b"x" * (2 * 1024 * 1024))
    assert too_big.status_code == 413


def test_task_runs_and_logs_batches(http: httpx.Client) -> None:
    run = create_run(http)
    now = datetime.now(UTC).isoformat()
    task_id = str(uuid.uuid4())
    batch = {
        "task_runs": [
            {
                "id": task_id,
                "flow_run_id": run["id"],
                "name": "greet-0",
                "task_key": "greet",
                "dynamic_key": "0",
                "run_count": 1,
                "states": [
                    {
                        "id": str(uuid.uuid4()),
                        "type": "RUNNING",
                        "name": "Running",
                        "timestamp": now,
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "type": "COMPLETED",
                        "name": "Completed",
                        "timestamp": datetime.now(UTC).isoformat(),
                    },
                ],
            }
        ]
    }
    assert http.post("/task_runs/batch", json=batch).status_code == 201
    assert http.post("/task_runs/batch", json=batch).status_code == 201  # replay: no change
    task_runs = http.get(f"/flow_runs/{run['id']}/task_runs").json()
    assert [(t["name"], t["state_type"]) for t in task_runs] == [("greet-0", "COMPLETED")]
    assert len(http.get(f"/task_runs/{task_id}").json()["states"]) == 2
    lines = {
        "logs": [
            {"flow_run_id": run["id"], "level": 20, "name": "x", "message": m, "timestamp": now}
            for m in ("one", "two\x00three")
        ]
    }
    assert http.post("/logs", json=lines).status_code == 201
    logs = http.get(f"/flow_runs/{run['id']}/logs").json()
    assert [item["message"] for item in logs["items"]] == ["one", "two\\x00three"]
    tail = http.get(f"/flow_runs/{run['id']}/logs", params={"after": logs["next_after"]}).json()
    assert tail["items"] == []


def test_openapi_document_covers_every_route(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert "/api/flow_runs/{run_id}/set_state" in document["paths"]
    assert "FlowRunCreate" in document["components"]["schemas"]


def test_unknown_endpoint_is_json_404(http: httpx.Client) -> None:
    response = http.get("/nope")
    assert response.status_code == 404 and "no such endpoint" in response.json()["detail"]


def test_a_forced_state_the_run_is_already_in_writes_nothing_and_is_no_500(
    http: httpx.Client,
) -> None:
    """Found by schemathesis: forcing FAILED on a FAILED run answered 500 (an update that
    recorded no change, read back as if it had)."""
    run = create_run(http)
    body = {"state": {"type": "FAILED"}, "force": True}
    for _ in range(2):
        answer = http.post(f"/flow_runs/{run['id']}/set_state", json=body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["state"]["type"] == "FAILED"
    states = http.get(f"/flow_runs/{run['id']}").json()["states"]
    assert [s["type"] for s in states] == ["RUNNING", "FAILED"]
