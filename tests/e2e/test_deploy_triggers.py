"""`headrace deploy --trigger` and `flow.deploy(triggers=[...])`: automations that run the
deployment, replaced on each deploy and deleted with it; a real worker runs what they start."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headrace import flow
from headrace.client import HeadraceClient
from headrace.deployments import deployment_create
from headrace.schemas.automations import DeploymentTrigger
from tests.api.test_automations import wait_for

pytestmark = pytest.mark.slow


@flow
def hello(who: str = "world") -> str:
    return who


def automations(stack: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = stack.http.get("/automations").json()
    return rows


def test_a_deploy_trigger_runs_the_deployment_with_templated_parameters(
    deployment_stack: Callable[..., Any],
) -> None:
    stack = deployment_stack()
    trigger = {"expect": ["crm.contact.created"], "parameters": {"who": "{{ event.payload.name }}"}}
    name = stack.deploy("greet", "--trigger", json.dumps(trigger))
    deployment = stack.http.get(f"/deployments/name/{name}").json()
    [made] = automations(stack)
    assert made["name"] == f"{name} trigger 1"
    assert made["deployment_id"] == deployment["id"]
    stack.start_worker()

    event = {
        "event": "crm.contact.created",
        "resource": {"headrace.resource.id": "crm.contact.7"},
        "payload": {"name": "Ada"},
    }
    assert stack.http.post("/event_feed", json={"events": [event]}).status_code == 201

    def completed() -> list[dict[str, Any]]:
        runs = stack.http.get("/flow_runs", params={"deployment_id": deployment["id"]}).json()
        items: list[dict[str, Any]] = runs["items"]
        return [r for r in items if r["state_type"] == "COMPLETED"]

    [run] = wait_for(completed, timeout=60, what="the triggered run completed by the worker")
    assert run["parameters"] == {"who": "Ada"}

    # Deploying without --trigger keeps the triggers; with one replaces them.
    stack.deploy("greet")
    assert [a["id"] for a in automations(stack)] == [made["id"]]
    other = {"name": "greet-on-signup", "expect": ["crm.signup"], "enabled": False}
    stack.deploy("greet", "--trigger", json.dumps(other))
    [replaced] = automations(stack)
    assert (replaced["name"], replaced["enabled"]) == ("greet-on-signup", False)
    assert replaced["trigger"]["expect"] == ["crm.signup"]

    bad = stack.cli(
        "deploy",
        "flows/jobs.py:greet",
        "--name",
        stack.pool,
        "--pool",
        stack.pool,
        "--trigger",
        '{"expect": ["x"], "posture": "Sometimes"}',
        check=False,
    )
    assert bad.returncode == 2 and "triggers.0.posture" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr

    assert stack.http.delete(f"/deployments/{deployment['id']}").status_code == 204
    assert automations(stack) == []

    # The SDK's flow.deploy takes them too (dicts or DeploymentTrigger).
    with HeadraceClient(stack.url) as client:
        hello.deploy(
            "sdk",
            stack.pool,
            path=Path(__file__).parent,
            triggers=[DeploymentTrigger(expect=["crm.*"], parameters={"who": "{{ event.id }}"})],
            client=client,
        )
    [sdk] = automations(stack)
    assert sdk["name"] == "hello/sdk trigger 1"
    assert sdk["actions"][0]["parameters"] == {"who": "{{ event.id }}"}


def test_flow_deploy_sends_its_triggers() -> None:
    request = deployment_create(
        hello,
        name="d",
        work_pool_name="p",
        path=Path(__file__).parent,
        entrypoint="test_deploy_triggers.py:hello",
        triggers=[DeploymentTrigger(expect=["a.b"], parameters={"who": "x"}), {"expect": ["c"]}],
    )
    assert request.triggers is not None
    assert [t.expect for t in request.triggers] == [["a.b"], ["c"]]
    assert request.triggers[0].parameters == {"who": "x"}
