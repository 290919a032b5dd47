"""`headrace webhook` and `headrace automation` as real processes against a live server: a
request to a webhook's URL becomes an event, and that event runs a deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import QueueApi
from tests.api.test_automations import runs_of, wait_for
from tests.e2e.test_cli_bad_input import assert_one_line_error, run_cli

TEMPLATE = (
    '{"event": "shop.order.{{ body.status }}", '
    '"resource": {"headrace.resource.id": "shop.order.{{ body.id }}", '
    '"shop.source": "{{ headers[\'x-source\'] }}"}, '
    '"payload": {{ body | tojson }}}'
)


def create_hook(api_url: str, name: str, template: str = TEMPLATE) -> tuple[str, str]:
    made = run_cli("webhook", "create", name, "--template", template, api_url=api_url)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    url = lines[0].split("POST ", 1)[1].strip()
    return url, lines[-1].strip()


def events(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = http.get("/event_feed", params={"name": name}).json()["items"]
    return items


def test_a_webhook_request_becomes_an_event_that_runs_a_deployment(
    api_url: str, http: httpx.Client, tmp_path: Path
) -> None:
    queue_api = QueueApi(http)
    queue_api.pool("p")
    deployment = queue_api.deploy("p", name="ship", flow="orders")
    definition = {
        "name": "ship-paid-orders",
        "trigger": {"expect": ["shop.order.paid"], "match": {"shop.source": "web*"}},
        "actions": [
            {
                "type": "run-deployment",
                "deployment": "orders/ship",
                "parameters": {"order": "{{ event.payload.id }}"},
            }
        ],
    }
    file = tmp_path / "automation.json"
    file.write_text(json.dumps(definition))
    made = run_cli("automation", "create", "--from-file", str(file), api_url=api_url)
    assert made.returncode == 0 and "ship-paid-orders" in made.stdout, made.stderr

    url, secret = create_hook(api_url, "shop")
    assert url.startswith(api_url.removesuffix("/api") + "/hooks/")
    sent = httpx.post(
        url,
        json={"id": 42, "status": "paid"},
        headers={"X-Headrace-Webhook-Secret": secret, "X-Source": "webshop"},
    )
    assert sent.status_code == 202, sent.text
    [event] = events(http, "shop.order.paid")
    assert event["resource"]["headrace.resource.id"] == "shop.order.42"
    assert event["payload"] == {"id": 42, "status": "paid"}
    assert event["related"][0]["headrace.resource.role"] == "webhook"

    [run] = wait_for(lambda: runs_of(http, deployment), what="the deployment's run")
    assert run["parameters"] == {"order": "42"}
    shown = run_cli("automation", "inspect", "ship-paid-orders", api_url=api_url)
    assert "shop.order.paid" in shown.stdout and "run-deployment executed" in shown.stdout
    listed = run_cli("automation", "ls", api_url=api_url)
    assert "ship-paid-orders" in listed.stdout and "shop.order.paid" in listed.stdout

    # A form and a plain text body, with the secret as a bearer token.
    form = httpx.post(
        url,
        data={"id": "7", "status": "refunded"},
        headers={"Authorization": f"Bearer {secret}", "X-Source": "pos"},
    )
    assert form.status_code == 202, form.text
    assert events(http, "shop.order.refunded")[0]["payload"] == {"id": "7", "status": "refunded"}

    assert run_cli("automation", "pause", "ship-paid-orders", api_url=api_url).returncode == 0
    paused = json.loads(run_cli("automation", "ls", "--json", api_url=api_url).stdout)
    assert paused[0]["enabled"] is False
    assert run_cli("automation", "resume", "ship-paid-orders", api_url=api_url).returncode == 0
    definition["trigger"] = {"expect": ["shop.order.shipped"]}
    file.write_text(json.dumps({"trigger": definition["trigger"]}))
    updated = run_cli("automation", "update", "ship-paid-orders", "-f", str(file), api_url=api_url)
    assert updated.returncode == 0, updated.stderr
    assert http.get("/automations/ship-paid-orders").json()["trigger"]["expect"] == [
        "shop.order.shipped"
    ]
    assert run_cli("automation", "delete", "ship-paid-orders", api_url=api_url).returncode == 0
    assert_one_line_error(
        run_cli("automation", "inspect", "ship-paid-orders", api_url=api_url), "no automation"
    )


def test_a_wrong_or_missing_secret_is_401_counted_and_makes_no_event(
    api_url: str, http: httpx.Client
) -> None:
    url, secret = create_hook(api_url, "guarded")
    body = {"id": 1, "status": "paid"}
    assert httpx.post(url, json=body).status_code == 401
    wrong = httpx.post(url, json=body, headers={"X-Headrace-Webhook-Secret": "whs_guess"})
    assert wrong.status_code == 401
    # A page of another site is refused before anything is read, even with the secret.
    cross_site = httpx.post(
        url,
        content=json.dumps(body),
        headers={
            "Origin": "https://evil.example",
            "Content-Type": "text/plain",
            "X-Headrace-Webhook-Secret": secret,
        },
    )
    assert cross_site.status_code == 403
    assert events(http, "shop.order.") == []
    shown = json.loads(run_cli("webhook", "inspect", "guarded", "--json", api_url=api_url).stdout)
    assert (shown["received"], shown["rejected"]) == (0, 2)
    assert "secret" not in shown

    rotated = run_cli("webhook", "rotate", "guarded", api_url=api_url)
    new_secret = rotated.stdout.strip().splitlines()[-1]
    assert new_secret != secret
    assert (
        httpx.post(url, json=body, headers={"X-Headrace-Webhook-Secret": secret}).status_code == 401
    )
    ok = httpx.post(url, json=body, headers={"X-Headrace-Webhook-Secret": new_secret})
    assert ok.status_code == 202
    assert run_cli("webhook", "disable", "guarded", api_url=api_url).returncode == 0
    refused = httpx.post(url, json=body, headers={"X-Headrace-Webhook-Secret": new_secret})
    assert refused.status_code == 409 and "disabled" in refused.text
    assert run_cli("webhook", "delete", "guarded", api_url=api_url).returncode == 0
    gone = httpx.post(url, json=body, headers={"X-Headrace-Webhook-Secret": new_secret})
    assert gone.status_code == 404
    assert len(events(http, "shop.order.")) == 1


def test_bad_templates_and_definitions_are_one_line_errors(
    api_url: str, http: httpx.Client, tmp_path: Path
) -> None:
    assert_one_line_error(
        run_cli("webhook", "create", "x", "--template", "{{ oops", api_url=api_url),
        "template",
    )
    url, secret = create_hook(api_url, "not-json", template="hello {{ body }}")
    answer = httpx.post(url, content="hi", headers={"X-Headrace-Webhook-Secret": secret})
    assert answer.status_code == 422 and "did not render JSON" in answer.text
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"name": "bad", "trigger": {}, "actions": [{"type": "nope"}]}))
    assert_one_line_error(
        run_cli("automation", "create", "--from-file", str(file), api_url=api_url),
        "actions.0",
    )
    file.write_text("{not json")
    assert_one_line_error(
        run_cli("automation", "create", "--from-file", str(file), api_url=api_url),
        "not valid JSON",
    )


def test_a_text_body_is_given_as_text_and_a_huge_one_is_413(
    api_url: str, http: httpx.Client
) -> None:
    template = (
        '{"event": "log.line", "resource": {"headrace.resource.id": "app"}, '
        '"payload": {"line": {{ body | tojson }}, "q": {{ query | tojson }}}}'
    )
    url, secret = create_hook(api_url, "lines", template=template)
    headers = {"X-Headrace-Webhook-Secret": secret, "Content-Type": "text/plain"}
    sent = httpx.post(url + "?level=warn", content="disk almost full", headers=headers)
    assert sent.status_code == 202, sent.text
    assert events(http, "log.line")[0]["payload"] == {
        "line": "disk almost full",
        "q": {"level": "warn"},
    }
    huge = httpx.post(url, content="x" * 1_000_001, headers=headers)
    assert huge.status_code == 413
    assert len(events(http, "log.line")) == 1


def test_a_sequence_trigger_from_a_file(api_url: str, tmp_path: Path) -> None:
    definition = {
        "name": "extract-then-load",
        "trigger": {
            "type": "sequence",
            "within": 3600,
            "triggers": [{"expect": ["etl.extracted"]}, {"expect": ["etl.loaded"]}],
        },
        "actions": [{"type": "pause-automation"}],
    }
    file = tmp_path / "sequence.json"
    file.write_text(json.dumps(definition))
    made = run_cli("automation", "create", "--from-file", str(file), api_url=api_url)
    assert made.returncode == 0 and "extract-then-load" in made.stdout, made.stderr
    listed = run_cli("automation", "ls", api_url=api_url)
    assert "in order: etl.extracted, then" in " ".join(listed.stdout.split()), listed.stdout

    definition["trigger"] = {"type": "sequence", "triggers": []}
    file.write_text(json.dumps(definition))
    bad = run_cli("automation", "create", "--from-file", str(file), api_url=api_url)
    assert_one_line_error(bad, "trigger.sequence.triggers")
