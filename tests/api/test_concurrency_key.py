"""Concurrency keys through the REST API: stored on the deployment, rendered onto each run, and
every bad template or parameter a 422 naming what to fix."""

from __future__ import annotations

import time
from typing import Any

import httpx

from headrace import deploy, flow
from headrace.client import HeadraceClient

SCHEMA = {
    "type": "object",
    "properties": {"customer": {"type": "string"}, "size": {"type": "integer"}},
}


def _deployment(http: httpx.Client, **fields: Any) -> httpx.Response:
    http.post("/work_pools", json={"name": "p"})
    body = {
        "flow_name": "bill",
        "name": "monthly",
        "entrypoint": "flows/bill.py:bill",
        "path": "/srv/code",
        "work_pool_name": "p",
        "parameter_schema": SCHEMA,
        "concurrency_limit": 2,
        **fields,
    }
    return http.post("/deployments", json=body)


def test_key_is_stored_and_rendered_per_run(http: httpx.Client) -> None:
    made = _deployment(http, concurrency_key="{{ parameters.customer | lower }}-x")
    assert made.status_code == 201, made.text
    deployment = made.json()
    assert deployment["concurrency_key"] == "{{ parameters.customer | lower }}-x"
    run = http.post(
        f"/deployments/{deployment['id']}/runs", json={"parameters": {"customer": "ACME"}}
    )
    assert run.status_code == 201, run.text
    assert run.json()["concurrency_key"] == "acme-x"
    assert http.get(f"/flow_runs/{run.json()['id']}").json()["concurrency_key"] == "acme-x"
    dashboard = str(http.base_url).rstrip("/").removesuffix("/api")
    page = httpx.get(f"{dashboard}/deployments/{deployment['id']}").text
    assert "Concurrency key" in page and "{{ parameters.customer | lower }}-x" in page
    run_page = httpx.get(f"{dashboard}/runs/{run.json()['id']}").text
    assert "Concurrency key" in run_page and "<code>acme-x</code>" in run_page
    cleared = http.patch(f"/deployments/{deployment['id']}", json={"concurrency_key": None})
    assert cleared.status_code == 200 and cleared.json()["concurrency_key"] is None
    plain = http.post(
        f"/deployments/{deployment['id']}/runs", json={"parameters": {"customer": "ACME"}}
    )
    assert plain.json()["concurrency_key"] is None


def test_bad_templates_name_the_field(http: httpx.Client) -> None:
    cases = {
        "{{ parameters.customer ": "not a valid template",
        "{{ parameters.tenant }}": "parameters.tenant",
        "{{ variables.x }}": "only 'parameters'",
        "{% for i in range(9) %}x{% endfor %}": "may not",
        "{{ parameters.customer | wordwrap }}": "wordwrap",
        "{{ parameters.customer * 1000000 }}": "may not",
        "x" * 501: "500",
    }
    for template, reason in cases.items():
        answer = _deployment(http, concurrency_key=template)
        assert answer.status_code == 422, (template, answer.text)
        assert "concurrency_key" in answer.text and reason in answer.text, answer.text
    ok = _deployment(http).json()
    patched = http.patch(
        f"/deployments/{ok['id']}", json={"concurrency_key": "{{ parameters.nope }}"}
    )
    assert patched.status_code == 422 and "body.concurrency_key" in patched.text


def test_run_without_the_keyed_parameter_is_a_422_naming_it(http: httpx.Client) -> None:
    deployment = _deployment(http, concurrency_key="{{ parameters.customer }}").json()
    missing = http.post(f"/deployments/{deployment['id']}/runs", json={"parameters": {}})
    assert missing.status_code == 422
    assert "body.parameters.customer" in missing.text, missing.text
    huge = http.post(
        f"/deployments/{deployment['id']}/runs", json={"parameters": {"customer": "c" * 300}}
    )
    assert huge.status_code == 422
    assert "body.parameters.customer" in huge.text and "200" in huge.text, huge.text


def test_scheduled_runs_get_their_key_from_the_schedule_parameters(http: httpx.Client) -> None:
    made = _deployment(
        http,
        concurrency_key="{{ parameters.customer }}",
        parameters={"customer": "acme"},
        schedules=[{"schedule": {"interval": 2}, "parameters": {"customer": "globex"}}],
    )
    assert made.status_code == 201, made.text
    deadline = time.monotonic() + 20
    runs: list[Any] = []
    while time.monotonic() < deadline and not runs:
        answer = http.get("/flow_runs", params={"deployment_id": made.json()["id"]})
        runs = answer.json()["items"]
        time.sleep(0.2)
    assert runs, "the scheduler made no run within 20 s"
    assert {run["concurrency_key"] for run in runs} == {"globex"}


def test_the_claims_count_of_active_runs_per_key_reads_only_the_index(sql: Any) -> None:
    """The claim counts a pool's active runs per (queue, deployment, key value): the partial
    index ix_flow_run_active holds every column it reads, so the count never visits the table."""
    from headrace_service.models import ACTIVE_SQL

    with sql.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.exec_driver_sql(
                "EXPLAIN SELECT deployment_id, concurrency_key, count(*) FROM flow_run "
                "WHERE work_pool_id = gen_random_uuid() AND state_type IN "
                f"{ACTIVE_SQL} GROUP BY deployment_id, concurrency_key"
            )
        )
    assert "Index Only Scan using ix_flow_run_active" in plan, plan


@flow
def invoice(customer: str) -> str:
    return customer


def test_flow_deploy_and_to_deployment_take_a_concurrency_key(
    client: HeadraceClient, http: httpx.Client
) -> None:
    http.post("/work_pools", json={"name": "invoices"})
    made = invoice.deploy(
        "per-customer",
        "invoices",
        concurrency_limit=1,
        concurrency_key="{{ parameters.customer }}",
        client=client,
    )
    assert (made.concurrency_limit, made.concurrency_key) == (1, "{{ parameters.customer }}")
    [again] = deploy(
        invoice.to_deployment("per-region", concurrency_key="{{ parameters.customer | upper }}"),
        work_pool_name="invoices",
    )
    assert again.concurrency_key == "{{ parameters.customer | upper }}"
