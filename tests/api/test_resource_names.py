"""Names that are parts of URLs (pools, queues, flows, deployments, limit tags) follow one rule:
a name the API accepts can always be read back, by name, through the API."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from headrace.schemas.names import MAX_NAME

BAD_NAMES = [
    ("", "a name cannot be empty"),
    ("   ", "a name cannot be empty"),
    ("a/b", "a name cannot contain '/'"),
    ("..", "a name cannot be '..'"),
    (".", "a name cannot be '.'"),
    ("tab\there", "control characters"),
    ("nul\x00", "control characters"),
    ("n" * (MAX_NAME + 1), f"a name is at most {MAX_NAME} characters"),
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def deployment_body(pool: str, **names: str) -> dict[str, Any]:
    return {
        "flow_name": "f",
        "name": "d",
        "entrypoint": "flows.py:f",
        "path": "/srv/code",
        "work_pool_name": pool,
        **names,
    }


@pytest.mark.parametrize(("name", "message"), BAD_NAMES, ids=[m for _, m in BAD_NAMES])
def test_a_name_that_could_not_be_read_back_is_refused_everywhere(
    http: httpx.Client, name: str, message: str
) -> None:
    pool = unique("pool")
    assert http.post("/work_pools", json={"name": pool}).status_code == 201
    attempts = {
        "work pool": http.post("/work_pools", json={"name": name}),
        "work queue": http.post(f"/work_pools/{pool}/queues", json={"name": name}),
        "flow": http.post("/flows", json={"name": name}),
        "flow of a run": http.post("/flow_runs", json={"flow_name": name}),
        "limit tag": http.post("/concurrency_limits", json={"tag": name, "limit": 1}),
        "deployment": http.post("/deployments", json=deployment_body(pool, name=name)),
        "deployment's flow": http.post("/deployments", json=deployment_body(pool, flow_name=name)),
        "deployment's queue": http.post(
            "/deployments", json=deployment_body(pool, work_queue_name=name)
        ),
    }
    for what, answer in attempts.items():
        assert answer.status_code == 422, (what, answer.text)
        assert message in answer.json()["detail"], (what, answer.json())


def test_a_good_name_is_stored_trimmed_and_read_back_by_name(http: httpx.Client) -> None:
    pool = unique("pool ✓ 名前")
    made = http.post("/work_pools", json={"name": f"  {pool}  "})
    assert made.status_code == 201 and made.json()["name"] == pool
    assert http.get(f"/work_pools/{pool}").json()["name"] == pool
    # Characters a URL gives meaning to are fine: clients percent-encode a path segment.
    queue = http.post(f"/work_pools/{pool}/queues", json={"name": "q %20 ?#"}).json()
    assert http.get(f"/work_pools/{pool}/queues/{quote(queue['name'], safe='')}").is_success
    flow = http.post("/flows", json={"name": "etl..v2"}).json()
    assert http.get(f"/flows/name/{flow['name']}").status_code == 200
    assert http.post("/concurrency_limits", json={"tag": "db:main", "limit": 1}).is_success
    assert http.get("/concurrency_limits/db:main").status_code == 200
    assert http.delete(f"/work_pools/{pool}").status_code == 204
