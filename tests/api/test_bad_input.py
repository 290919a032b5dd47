"""Hostile text through every text field of the main create endpoints: each value either comes
back exactly as sent or is refused with a 422 that names the field, never a 500; and caps on
bodies, parameters and JSON nesting answer with the limit in the message.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from headrace.schemas.common import (
    MAX_NAME,
    MAX_PARAMETERS_BYTES,
    MAX_PARAMETERS_DEPTH,
    check_parameters,
)

NASTY = [
    "'; DROP TABLE flow; --",
    "say \"hi\" \\ and 'bye'",
    "%s %(x)s {0} :name $1 ?",
    "名前 ✓ 🚀 é\u200b עברית",
    "a\x00b",  # PostgreSQL text and JSONB cannot hold NUL: must be a clean 422
    "\x01\x1f control",
    "x" * (MAX_NAME + 1),
    "y" * 200_000,
]


def refused_or_round_trips(response: httpx.Response, field: str, sent: str, got: Any) -> None:
    where = f"{field}={sent[:40]!r}"
    assert response.status_code != 500, where
    body = response.json()
    if response.status_code == 422:
        assert field.split(".")[-1] in body["detail"] or "NUL" in body["detail"], body
        return
    assert response.status_code in (200, 201), (where, response.status_code, body)
    assert "\x00" not in sent, f"{where}: a NUL cannot be stored, yet it was accepted"
    assert got == sent, where


def with_value(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """A copy of `body` with `value` at a dotted path (`tags.0`, `parameters.<key>`)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    node: Any = copy
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if last == "<key>":
        node[value] = 1
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return copy


def read_back(body: dict[str, Any], path: str, value: str) -> Any:
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if last == "<key>":
        return value if value in node else None
    return node[int(last)] if isinstance(node, list) else node[last]


def make_pool(http: httpx.Client) -> str:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    assert http.post("/work_pools", json={"name": name}).status_code == 201
    return name


# (endpoint, valid body, text fields as dotted paths, where the response holds them)
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("/flows", {"name": "f"}, ["name"]),
    (
        "/flow_runs",
        {"flow_name": "f", "name": "r", "tags": ["t"], "parameters": {"p": "v"}},
        ["flow_name", "name", "tags.0", "parameters.p", "parameters.<key>"],
    ),
    ("/work_pools", {"name": "p", "description": "d"}, ["name", "description"]),
    ("/api_keys", {"name": "k", "scope": "read"}, ["name"]),
    ("/concurrency_limits", {"tag": "t", "limit": 1}, ["tag"]),
]


@pytest.mark.parametrize(("endpoint", "base", "fields"), CASES, ids=[c[0] for c in CASES])
def test_hostile_text_round_trips_or_is_refused(
    http: httpx.Client, endpoint: str, base: dict[str, Any], fields: list[str]
) -> None:
    for field in fields:
        for value in NASTY:
            # Unique per case, so that a create does not collide with an earlier one.
            body = with_value(base, field, value)
            if endpoint == "/work_pools" and field != "name":
                body["name"] = f"p-{uuid.uuid4().hex[:8]}"
            response = http.post(endpoint, json=body)
            got = read_back(response.json(), field, value) if response.status_code < 300 else None
            refused_or_round_trips(response, field, value, got)


def test_deployment_text_fields(http: httpx.Client) -> None:
    pool = make_pool(http)
    base = {
        "flow_name": "f",
        "name": "d",
        "entrypoint": "flows.py:f",
        "path": "/srv/code",
        "work_pool_name": pool,
        "description": "d",
        "tags": ["t"],
        "parameters": {"p": "v"},
    }
    for field in ("flow_name", "name", "description", "tags.0", "parameters.p"):
        for value in NASTY:
            response = http.post("/deployments", json=with_value(base, field, value))
            got = read_back(response.json(), field, value) if response.status_code < 300 else None
            refused_or_round_trips(response, field, value, got)


def test_log_messages(http: httpx.Client) -> None:
    """Log lines are never refused for their text: a NUL is kept, escaped."""
    run = http.post("/flow_runs", json={"flow_name": "logs"}).json()
    now = datetime.now(UTC).isoformat()
    for value in NASTY[:-1]:  # the last is over the log line cap
        line = {"flow_run_id": run["id"], "level": 20, "name": "n", "message": value}
        response = http.post("/logs", json={"logs": [{**line, "timestamp": now}]})
        assert response.status_code == 201, (value[:40], response.text)
    stored = {line["message"] for line in http.get(f"/flow_runs/{run['id']}/logs").json()["items"]}
    expected = {v.replace("\x00", "\\x00") for v in NASTY[:-1]}
    assert stored == expected


def test_nul_in_path_and_query_is_a_clean_422(http: httpx.Client) -> None:
    assert http.get("/flows/name/a%00b").status_code == 422
    assert http.get("/flow_runs", params={"flow_name": "a\x00b"}).status_code == 422


def test_parameters_over_their_caps_name_the_limit(http: httpx.Client) -> None:
    deep: Any = "leaf"
    for _ in range(MAX_PARAMETERS_DEPTH + 1):
        deep = {"d": deep}
    too_deep = http.post("/flow_runs", json={"flow_name": "f", "parameters": deep})
    assert too_deep.status_code == 422
    assert f"limit of {MAX_PARAMETERS_DEPTH} levels" in too_deep.json()["detail"]
    big = {"p": "z" * (MAX_PARAMETERS_BYTES + 1)}
    too_big = http.post("/flow_runs", json={"flow_name": "f", "parameters": big})
    # The parameter cap equals the body cap (1 MiB), so over HTTP the body limit answers first.
    assert too_big.status_code == 413 and "limit of" in too_big.json()["detail"]
    with pytest.raises(ValueError, match=str(MAX_PARAMETERS_BYTES)):
        check_parameters(big)


def test_absurd_nesting_and_oversized_bodies(http: httpx.Client) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    response = http.post("/flow_runs", content=nested, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "nested deeper" in response.json()["detail"]
    huge = http.post("/flow_runs", content=b"{" + b" " * (2 << 20) + b"}")
    assert huge.status_code == 413 and "limit of" in huge.json()["detail"]


def test_page_sizes_and_numbers_are_capped(http: httpx.Client) -> None:
    for path in ("/flow_runs", "/deployments", "/api_keys"):
        response = http.get(path, params={"limit": 10**9})
        assert response.status_code == 422, path
        assert "limit" in response.json()["detail"]
        huge_offset = http.get(path, params={"offset": 10**30})
        assert huge_offset.status_code == 422, path
