"""Artifacts and variables through the real SDK, the typed client and the HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from headrace import flow, task
from headrace.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from headrace.client import HeadraceClient
from headrace.client import artifacts as artifact_client
from headrace.schemas.artifacts import ArtifactQuery
from headrace.variables import Variable


@task
def tabulate() -> uuid.UUID:
    return create_table_artifact(
        [{"name": "a", "rows": 1}, {"name": "b", "rows": float("nan")}],
        key="load-table",
        description="rows per file",
    )


def test_artifacts_made_in_a_flow_are_linked_to_its_runs(client: HeadraceClient) -> None:
    @flow
    def publish() -> tuple[uuid.UUID, uuid.UUID]:
        create_markdown_artifact("# Report\n*done*", key="daily-report")
        create_link_artifact("https://example.com/x", "the file", key="daily-link")
        create_image_artifact("https://example.com/chart.png")
        progress = create_progress_artifact(10, key="load-progress")
        update_progress_artifact(progress, 75)
        return tabulate(), progress

    table_id, progress_id = publish()
    run = client.get_json("/flow_runs", params={"flow_name": "publish"})["items"][0]
    made = artifact_client.list_artifacts(client, ArtifactQuery(flow_run_id=run["id"]))
    assert {a.type for a in made} == {"markdown", "table", "progress", "image"}
    assert all(str(a.flow_run_id) == run["id"] for a in made)

    table = artifact_client.read(client, table_id)
    assert table.task_run_id is not None  # made inside the task
    assert table.data == [{"name": "a", "rows": 1}, {"name": "b", "rows": None}]
    assert table.description == "rows per file"
    assert artifact_client.read(client, progress_id).data == 75.0
    link = artifact_client.read_latest(client, "daily-link")
    assert link.data == "[the file](https://example.com/x)"
    assert link.task_run_id is None  # made by the flow itself


def test_a_key_keeps_its_history_latest_first(client: HeadraceClient) -> None:
    for text in ("first", "second", "third"):
        create_markdown_artifact(text, key="history")  # outside a run: no run linked
    history = artifact_client.list_artifacts(client, ArtifactQuery(key="history"))
    assert [a.data for a in history] == ["third", "second", "first"]
    assert history[0].flow_run_id is None
    assert artifact_client.read_latest(client, "history").data == "third"
    create_markdown_artifact("other", key="other-key")
    latest = artifact_client.list_artifacts(client, ArtifactQuery(latest=True))
    assert [a.data for a in latest] == ["other", "third"]


def test_all_three_table_shapes_are_accepted(client: HeadraceClient) -> None:
    for shape in ({"a": [1, 2], "b": [3, 4]}, [[1, 2], [3, 4]], [{"a": 1}]):
        create_table_artifact(shape, key="shapes")  # type: ignore[arg-type]
    stored = artifact_client.list_artifacts(client, ArtifactQuery(key="shapes"))
    assert [a.data for a in stored][::-1] == [
        {"a": [1, 2], "b": [3, 4]},
        [[1, 2], [3, 4]],
        [{"a": 1}],
    ]


def test_async_flows_await_artifacts_and_variables(client: HeadraceClient) -> None:
    @flow
    async def async_publish() -> object:
        await create_markdown_artifact("from async", key="async-report")
        await Variable.aset("async_var", {"n": 1})
        assert await Variable.get("async_var") == {"n": 1}
        return await Variable.aget("missing", default="fallback")

    assert asyncio.run(async_publish()) == "fallback"
    assert artifact_client.read_latest(client, "async-report").data == "from async"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "markdown", "data": "x", "key": "Bad Key"}, "lowercase letters, digits"),
        ({"type": "progress", "data": 150}, "from 0 to 100"),
        ({"type": "image", "data": "javascript:alert(1)"}, "http:// or https://"),
        ({"type": "table", "data": "not a table"}, "list of dicts"),
        ({"type": "markdown", "data": "x" * 600_000}, "over the limit of 524288"),
        ({"type": "chart", "data": "x"}, "type"),
        ({"type": "markdown", "data": "x", "flow_run_id": str(uuid.uuid4())}, "no flow run"),
    ],
)
def test_bad_artifacts_are_refused_with_what_to_fix(
    http: httpx.Client, body: dict[str, object], message: str
) -> None:
    response = http.post("/artifacts", json=body)
    assert response.status_code in (413, 422), response.text
    assert message in response.text


def test_progress_update_is_checked_against_the_artifact_type(http: httpx.Client) -> None:
    made = http.post("/artifacts", json={"type": "progress", "data": 5}).json()
    refused = http.patch(f"/artifacts/{made['id']}", json={"data": "half"})
    assert refused.status_code == 422
    assert "number from 0 to 100" in refused.json()["detail"]
    assert http.get(f"/artifacts/{uuid.uuid4()}").status_code == 404
    assert http.get("/artifacts/latest/nothing-here").status_code == 404


def test_variables_get_set_unset(client: HeadraceClient) -> None:
    assert Variable.get("threshold") is None
    assert Variable.get("threshold", default=0.5) == 0.5
    stored = Variable.set("threshold", 0.8, tags=["ops"])
    assert (stored.name, stored.value, stored.tags) == ("threshold", 0.8, ["ops"])
    with pytest.raises(ValueError, match=r"already exists\. Use `overwrite=True`"):
        Variable.set("threshold", 0.9)
    Variable.set("threshold", {"low": 1, "high": [2, 3]}, overwrite=True)
    assert Variable.get("threshold") == {"low": 1, "high": [2, 3]}
    listed = client.get_json("/variables")
    assert [(v["name"], v["tags"]) for v in listed] == [("threshold", [])]
    assert Variable.unset("threshold") is True
    assert Variable.unset("threshold") is False
    assert Variable.get("threshold", default="gone") == "gone"


def test_variables_inside_a_flow(client: HeadraceClient) -> None:
    Variable.set("region", "eu-west", overwrite=True)

    @task
    def where() -> str:
        return str(Variable.get("region"))

    @flow
    def uses_variable() -> str:
        return where()

    assert uses_variable() == "eu-west"


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("POST", "/variables", {"name": "a/b", "value": 1}, "cannot contain '/'"),
        ("POST", "/variables", {"name": "", "value": 1}, "cannot be empty"),
        ("POST", "/variables", {"name": "big", "value": "x" * 6000}, "over the limit of 5000"),
        ("PUT", "/variables/%20", {"value": 1}, "cannot be empty"),
        ("PUT", "/variables/ok", {"value": "\u0000"}, "NUL"),
        ("PATCH", "/variables/ok", {"value": [[[[1]]]], "tags": ["x" * 300]}, "tags"),
    ],
)
def test_bad_variables_are_refused_with_what_to_fix(
    http: httpx.Client, method: str, path: str, body: dict[str, object], message: str
) -> None:
    response = http.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert message in response.text


def test_variable_conflict_and_missing(http: httpx.Client) -> None:
    assert http.post("/variables", json={"name": "v", "value": 1}).status_code == 201
    taken = http.post("/variables", json={"name": "v", "value": 2})
    assert taken.status_code == 409
    assert "already exists" in taken.json()["detail"]
    assert http.get("/variables/nope").status_code == 404
    assert http.delete("/variables/nope").status_code == 404
    patched = http.patch("/variables/v", json={"tags": ["t"]}).json()
    assert (patched["value"], patched["tags"]) == (1, ["t"])


def test_variables_fill_deployment_templates_when_the_run_is_claimed(
    http: httpx.Client, queue_api: Any
) -> None:
    queue_api.pool("p")
    deployment = queue_api.deploy(
        "p",
        parameters={"bucket": "{{ variables.bucket }}", "note": "to {{variables.bucket}}!"},
        job_variables={"env": {"LIMIT": "{{ variables.limit }}"}, "x": "{{ variables.nope }}"},
    )
    worker_id = queue_api.heartbeat("p", "w1")["worker_id"]
    run = queue_api.run(deployment)
    # Set after the run was created: the value of the moment the run is claimed counts.
    http.post("/variables", json={"name": "bucket", "value": "s3://old"})
    http.put("/variables/bucket", json={"value": "s3://data"})
    http.post("/variables", json={"name": "limit", "value": 5})
    [claimed] = queue_api.claim("p", worker_id)
    assert claimed["parameters"] == {"bucket": "s3://data", "note": "to s3://data!"}
    assert claimed["job_variables"] == {"env": {"LIMIT": 5}, "x": "{{ variables.nope }}"}
    # The run's process reads its parameters from the run: they are stored filled in.
    assert queue_api.run_state(run["id"])["parameters"]["bucket"] == "s3://data"
