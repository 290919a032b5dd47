"""Automations against the real server: events from real state changes fire real actions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import QueueApi
from tests.webhook_receiver import Receiver

RID = "headrace.resource.id"


def wait_for(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def runs_of(http: httpx.Client, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    response = http.get("/flow_runs", params={"deployment_id": deployment["id"]})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def firings(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    response = http.get(f"/automations/{name}/firings")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def finished_firings(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    """The firings whose actions all have an outcome."""
    return [
        f
        for f in firings(http, name)
        if all(a["status"] in ("executed", "failed") for a in f["actions"])
    ]


def create(http: httpx.Client, **definition: Any) -> dict[str, Any]:
    response = http.post("/automations", json=definition)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def emit(http: httpx.Client, name: str, seconds_ago: float = 0) -> None:
    """Send one event about resource `r`, that occurred `seconds_ago`."""
    occurred = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    event = {"event": name, "occurred": occurred.isoformat(), "resource": {RID: "r"}}
    assert http.post("/event_feed", json={"events": [event]}).status_code == 201


def running_run(queue_api: QueueApi, deployment: str) -> dict[str, Any]:
    """A Running run of a new deployment of pool `p`."""
    queue_api.pool("p")
    run = queue_api.run(queue_api.deploy("p", name=deployment))
    assert queue_api.set_state(run["id"], "RUNNING").status_code == 201
    return run


def fail_run(queue_api: QueueApi, run_id: str) -> None:
    assert queue_api.set_state(run_id, "RUNNING").status_code == 201
    assert queue_api.set_state(run_id, "FAILED", message="boom").status_code == 201


def test_a_failure_of_deployment_a_runs_deployment_b_once(
    http: httpx.Client, queue_api: QueueApi
) -> None:
    queue_api.pool("p")
    a = queue_api.deploy("p", name="a", flow="extract")
    b = queue_api.deploy("p", name="b", flow="repair")
    create(
        http,
        name="repair-after-extract",
        trigger={
            "expect": ["headrace.flow-run.Failed"],
            "match_related": {"headrace.resource.id": f"headrace.deployment.{a['id']}"},
        },
        actions=[
            {
                "type": "run-deployment",
                "deployment": "repair/b",
                "parameters": {"failed_run": "{{ event.resource['headrace.resource.id'] }}"},
            }
        ],
    )
    run = queue_api.run(a)
    fail_run(queue_api, run["id"])

    [started] = wait_for(lambda: runs_of(http, b), what="a run of deployment B")
    assert started["parameters"] == {"failed_run": f"headrace.flow-run.{run['id']}"}
    [firing] = wait_for(
        lambda: finished_firings(http, "repair-after-extract"), what="the action's outcome"
    )
    assert firing["event"]["event"] == "headrace.flow-run.Failed"
    assert "created flow run" in firing["actions"][0]["reason"]

    # Runs of B (and their own failure) and a completed run of A fire nothing more.
    fail_run(queue_api, started["id"])
    other = queue_api.run(a)
    assert queue_api.set_state(other["id"], "RUNNING").status_code == 201
    assert queue_api.set_state(other["id"], "COMPLETED").status_code == 201
    time.sleep(2)
    assert len(runs_of(http, b)) == 1
    assert len(firings(http, "repair-after-extract")) == 1

    events = http.get("/event_feed", params={"name": "headrace.automation."}).json()["items"]
    names = {e["event"] for e in events}
    assert {"headrace.automation.triggered", "headrace.automation.action.executed"} <= names


def test_a_proactive_trigger_fires_when_a_run_does_not_complete_in_time(
    http: httpx.Client, queue_api: QueueApi
) -> None:
    queue_api.pool("p")
    deployment = queue_api.deploy("p", name="slow")
    create(
        http,
        name="late-etl",
        trigger={
            "posture": "Proactive",
            "after": ["headrace.flow-run.Running"],
            "expect": ["headrace.flow-run.Completed"],
            "for_each": ["headrace.resource.id"],
            "within": 2,
        },
        actions=[{"type": "cancel-flow-run"}],
    )
    on_time = queue_api.run(deployment)
    late = queue_api.run(deployment)
    assert queue_api.set_state(on_time["id"], "RUNNING").status_code == 201
    assert queue_api.set_state(late["id"], "RUNNING").status_code == 201
    assert queue_api.set_state(on_time["id"], "COMPLETED").status_code == 201

    [firing] = wait_for(lambda: firings(http, "late-etl"), what="the proactive firing")
    assert firing["event"]["resource"]["headrace.resource.id"] == f"headrace.flow-run.{late['id']}"
    wait_for(
        lambda: queue_api.run_state(late["id"])["state_type"] in ("CANCELLING", "CANCELLED"),
        what="the late run cancelled",
    )
    assert queue_api.run_state(on_time["id"])["state_type"] == "COMPLETED"
    time.sleep(2.5)
    assert len(firings(http, "late-etl")) == 1


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=1)
    yield server
    server.close()


def test_a_webhook_action_is_retried_after_a_500_and_sends_the_templated_body(
    http: httpx.Client, receiver: Receiver
) -> None:
    create(
        http,
        name="forward",
        trigger={"expect": ["shop.order.*"], "match": {"shop.region": ["eu-*", "!eu-test"]}},
        actions=[
            {
                "type": "call-webhook",
                "url": receiver.url,
                "body": '{"order": "{{ event.resource[\'headrace.resource.id\'] }}", '
                '"total": {{ event.payload.total }}}',
                "headers": {"X-Event": "{{ event.event }}"},
                "retry_backoff_seconds": 0.2,
            },
            {
                "type": "send-notification",
                "url": receiver.url.replace("/hook", "/notify"),
                "message": "order {{ event.id }}",
            },
        ],
    )
    events = [
        {
            "event": "shop.order.placed",
            "resource": {"headrace.resource.id": "o-1", "shop.region": "eu-west"},
            "payload": {"total": 12},
        },
        {
            "event": "shop.order.placed",
            "resource": {"headrace.resource.id": "o-2", "shop.region": "eu-test"},
        },
        {
            "event": "shop.cart.placed",
            "resource": {"headrace.resource.id": "o-3", "shop.region": "eu-west"},
        },
    ]
    response = http.post("/event_feed", json={"events": events})
    assert response.status_code == 201, response.text

    [firing] = wait_for(lambda: finished_firings(http, "forward"), what="both actions done")
    assert [a["status"] for a in firing["actions"]] == ["executed", "executed"]
    bodies = [json.loads(body) for _, body in receiver.requests]
    # The first call got a 500 and was retried with the same body and key.
    assert bodies.count({"order": "o-1", "total": 12}) == 2
    hook_calls = [h for h, b in receiver.requests if json.loads(b) == {"order": "o-1", "total": 12}]
    assert {h["X-Event"] for h in hook_calls} == {"shop.order.placed"}
    assert len({h["Idempotency-Key"] for h in hook_calls}) == 1
    assert {"text": f"order {firing['event']['id']}"} in bodies
    assert [a["attempts"] for a in firing["actions"]] == [2, 1]


def test_a_template_error_fails_the_action_with_its_reason(
    http: httpx.Client, receiver: Receiver
) -> None:
    create(
        http,
        name="broken",
        trigger={"expect": ["x.*"]},
        actions=[
            {"type": "call-webhook", "url": receiver.url, "body": "{{ 1 / 0 }}"},
            {"type": "send-notification", "url": receiver.url, "message": "still sent"},
        ],
    )
    ok = http.post(
        "/event_feed",
        json={"events": [{"event": "x.y", "resource": {"headrace.resource.id": "r"}}]},
    )
    assert ok.status_code == 201
    [firing] = wait_for(lambda: finished_firings(http, "broken"), what="both outcomes")
    first, second = firing["actions"]
    assert first["status"] == "failed" and "ZeroDivisionError" in first["reason"]
    assert second["status"] == "executed"
    failed = http.get("/event_feed", params={"name": "headrace.automation.action.failed"})
    assert "ZeroDivisionError" in failed.json()["items"][0]["payload"]["reason"]


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([{"type": "launch-rocket"}], "body.actions.0"),
        ([{"type": "call-webhook", "url": "http://x", "body": "{{ oops"}], "body.actions.0.body"),
        ([{"type": "run-deployment", "deployment": "nope/none"}], "body.actions.0.deployment"),
        (
            [{"type": "run-deployment", "parameters": {"a": ["{% if %}"]}}],
            "body.actions.0.parameters.a.0",
        ),
    ],
)
def test_bad_definitions_are_422_naming_the_field(
    http: httpx.Client, actions: list[dict[str, Any]], field: str
) -> None:
    response = http.post(
        "/automations", json={"name": "bad", "trigger": {"expect": ["x"]}, "actions": actions}
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert http.get("/automations").json() == []


def test_crud_pause_and_resume(http: httpx.Client, receiver: Receiver) -> None:
    made = create(
        http,
        name="notify",
        trigger={"expect": ["ping"]},
        actions=[{"type": "send-notification", "url": receiver.url, "message": "pong"}],
    )
    assert (
        http.post(
            "/automations", json={"name": "notify", "trigger": {}, "actions": made["actions"]}
        ).status_code
        == 409
    )
    assert http.get(f"/automations/{made['id']}").json()["name"] == "notify"
    paused = http.patch("/automations/notify", json={"enabled": False})
    assert paused.status_code == 200 and paused.json()["enabled"] is False

    def ping() -> None:
        body = {"events": [{"event": "ping", "resource": {"headrace.resource.id": "r"}}]}
        assert http.post("/event_feed", json=body).status_code == 201

    ping()
    time.sleep(1.5)
    assert firings(http, "notify") == []
    assert http.patch("/automations/notify", json={"enabled": True}).status_code == 200
    ping()
    wait_for(lambda: firings(http, "notify"), what="a firing once resumed")
    assert http.delete("/automations/notify").status_code == 204
    assert http.get("/automations/notify").status_code == 404


def test_a_compound_trigger_fires_once_all_of_its_triggers_fired(
    http: httpx.Client, receiver: Receiver
) -> None:
    create(
        http,
        name="both",
        trigger={
            "type": "compound",
            "require": "all",
            "within": 60,
            "triggers": [{"expect": ["data.loaded"]}, {"expect": ["model.trained"]}],
        },
        actions=[{"type": "send-notification", "url": receiver.url + "2", "message": "go"}],
    )

    emit(http, "data.loaded")
    emit(http, "data.loaded")
    time.sleep(1.5)
    assert firings(http, "both") == []
    emit(http, "model.trained")
    [firing] = wait_for(lambda: finished_firings(http, "both"), what="the compound firing")
    assert firing["event"]["event"] == "model.trained"
    assert firing["actions"][0]["status"] == "executed"
    # It starts over: one more of each is needed.
    emit(http, "model.trained")
    time.sleep(1.5)
    assert len(firings(http, "both")) == 1
    emit(http, "data.loaded")
    wait_for(lambda: len(firings(http, "both")) == 2, what="the second compound firing")


def test_a_sequence_trigger_fires_only_in_order_and_within_its_window(
    http: httpx.Client, receiver: Receiver
) -> None:
    create(
        http,
        name="extract-then-load",
        trigger={
            "type": "sequence",
            "within": 600,
            "triggers": [{"expect": ["etl.extracted"]}, {"expect": ["etl.loaded"]}],
        },
        actions=[{"type": "send-notification", "url": receiver.url + "2", "message": "done"}],
    )

    # Out of order: loaded, then extracted.
    emit(http, "etl.loaded")
    emit(http, "etl.extracted")
    time.sleep(1.5)
    assert firings(http, "extract-then-load") == []
    # Loaded again: now extracted came first.
    emit(http, "etl.loaded")
    [firing] = wait_for(lambda: finished_firings(http, "extract-then-load"), what="a firing")
    assert firing["event"]["event"] == "etl.loaded"
    assert firing["actions"][0]["status"] == "executed"
    # In order, but further apart than `within`: nothing.
    emit(http, "etl.extracted", seconds_ago=900)
    emit(http, "etl.loaded")
    time.sleep(1.5)
    assert len(firings(http, "extract-then-load")) == 1
    listed = http.get("/automations/extract-then-load").json()
    assert listed["trigger"]["type"] == "sequence"


def test_actions_pause_a_pool_a_queue_and_the_automation_itself(
    http: httpx.Client, queue_api: QueueApi
) -> None:
    queue_api.pool("p")
    queue_api.queue("p", "urgent")
    create(
        http,
        name="freeze",
        trigger={"expect": ["ops.freeze"]},
        actions=[
            {"type": "pause-work-pool", "work_pool": "p"},
            {"type": "pause-work-queue", "work_pool": "p", "work_queue": "urgent"},
            {"type": "pause-automation"},
        ],
    )
    body = {"events": [{"event": "ops.freeze", "resource": {"headrace.resource.id": "ops"}}]}
    assert http.post("/event_feed", json=body).status_code == 201
    [firing] = wait_for(lambda: finished_firings(http, "freeze"), what="the actions")
    assert [a["status"] for a in firing["actions"]] == ["executed"] * 3, firing
    assert http.get("/work_pools/p").json()["paused"] is True
    queues = http.get("/work_pools/p/queues").json()
    assert {q["name"]: q["paused"] for q in queues}["urgent"] is True
    assert http.get("/automations/freeze").json()["enabled"] is False
    # Paused: a second event fires nothing.
    assert http.post("/event_feed", json=body).status_code == 201
    time.sleep(1.5)
    assert len(firings(http, "freeze")) == 1


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "pause-work-pool", "work_pool": "nope"}, "body.actions.0.work_pool"),
        (
            {"type": "resume-work-queue", "work_pool": "p", "work_queue": "nope"},
            "body.actions.0.work_queue",
        ),
        ({"type": "resume-automation", "automation": "nope"}, "body.actions.0.automation"),
    ],
)
def test_actions_naming_what_does_not_exist_are_422(
    http: httpx.Client, queue_api: QueueApi, action: dict[str, Any], field: str
) -> None:
    queue_api.pool("p")
    answer = http.post(
        "/automations", json={"name": "x", "trigger": {"expect": ["y"]}, "actions": [action]}
    )
    assert answer.status_code == 422 and field in answer.json()["detail"], answer.text


def test_change_flow_run_state_of_a_named_run_and_a_refused_transition(
    http: httpx.Client, queue_api: QueueApi
) -> None:
    run = running_run(queue_api, "stuck")
    create(
        http,
        name="give-up",
        trigger={"expect": ["ops.give-up"]},
        actions=[
            {
                "type": "change-flow-run-state",
                "flow_run_id": run["id"],
                "state": {"type": "FAILED", "message": "given up by ops"},
            },
            {
                "type": "change-flow-run-state",
                "flow_run_id": run["id"],
                "state": {"type": "PENDING"},
            },
        ],
    )
    body = {"events": [{"event": "ops.give-up", "resource": {"headrace.resource.id": "ops"}}]}
    assert http.post("/event_feed", json=body).status_code == 201
    [firing] = wait_for(lambda: finished_firings(http, "give-up"), what="both outcomes")
    first, second = firing["actions"]
    assert first["status"] == "executed", first
    assert second["status"] == "failed" and "already finished" in second["reason"], second
    state = queue_api.run_state(run["id"])
    assert (state["state_type"], state["state_message"]) == ("FAILED", "given up by ops")


def test_suspend_and_resume_actions_refuse_a_run_that_is_not_paused(
    http: httpx.Client, queue_api: QueueApi
) -> None:
    run = running_run(queue_api, "busy")
    create(
        http,
        name="hold",
        trigger={"expect": ["ops.hold"]},
        actions=[
            {"type": "suspend-flow-run", "flow_run_id": run["id"]},
            {"type": "resume-flow-run", "flow_run_id": run["id"], "run_input": {"who": "ann"}},
        ],
    )
    emit(http, "ops.hold")
    [firing] = wait_for(lambda: finished_firings(http, "hold"), what="the actions")
    suspend, resume = firing["actions"]
    assert suspend["status"] == resume["status"] == "failed", firing
    assert (
        suspend["reason"] == f"flow run {run['id']}: cannot suspend: the run is Running, not paused"
    )
    assert (
        resume["reason"] == f"flow run {run['id']}: cannot resume: the run is Running, not paused"
    )
    assert http.get(f"/flow_runs/{run['id']}").json()["state_type"] == "RUNNING"

    bad = {"type": "resume-flow-run", "run_input": {"who": "{{ oops"}}
    answer = http.post(
        "/automations", json={"name": "x", "trigger": {"expect": ["y"]}, "actions": [bad]}
    )
    assert answer.status_code == 422 and "body.actions.0.run_input.who" in answer.text, answer.text
