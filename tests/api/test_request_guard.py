"""What a web page can make a browser send, refused over real HTTP (issue 20): cross-site
writes (Origin), DNS rebinding (Host), JSON disguised as text/plain (Content-Type), and an
entrypoint that is no flow of the user's code (`os:system`)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

FOREIGN_PAGE = {"Origin": "https://evil.example"}
RUN = {"flow_name": "guarded"}


def own_origin(http: httpx.Client) -> str:
    return f"http://{http.base_url.netloc.decode()}"


def runs_of(http: httpx.Client) -> list[Any]:
    items: list[Any] = http.get("/flow_runs", params={"flow_name": "guarded"}).json()["items"]
    return items


def test_a_page_of_another_site_cannot_write(http: httpx.Client) -> None:
    for headers in (
        FOREIGN_PAGE,
        {"Referer": "https://evil.example/attack.html"},  # a browser that sends no Origin
        {"Origin": "null"},  # a sandboxed frame or a local file
    ):
        refused = http.post("/flow_runs", json=RUN, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "HEADRACE_ALLOWED_ORIGINS" in refused.json()["detail"]
    deleted = http.delete(f"/flow_runs/{uuid.uuid4()}", headers=FOREIGN_PAGE)
    assert deleted.status_code == 403
    assert runs_of(http) == []
    # Reads are not refused (a foreign page cannot read the answer: no CORS headers are sent).
    assert http.get("/flow_runs", headers=FOREIGN_PAGE).status_code == 200
    # This server's own pages, and programs that send no Origin (CLI, SDK, workers), may.
    assert http.post("/flow_runs", json=RUN, headers={"Origin": own_origin(http)}).is_success
    assert http.post("/flow_runs", json=RUN).is_success
    assert len(runs_of(http)) == 2


@pytest.mark.parametrize(
    "server_settings_overrides",
    [{"allowed_origins": "https://ops.example.com, https://evil.example:8443"}],
)
def test_allowed_origins_may_write(http: httpx.Client) -> None:
    for origin in ("https://ops.example.com", "https://evil.example:8443"):
        assert http.post("/flow_runs", json=RUN, headers={"Origin": origin}).is_success
    assert http.post("/flow_runs", json=RUN, headers=FOREIGN_PAGE).status_code == 403


def test_a_foreign_host_name_gets_no_answer(http: httpx.Client) -> None:
    port = http.base_url.port
    # A page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name.
    for path in ("/flow_runs", "/health"):
        refused = http.get(path, headers={"Host": f"rebind.evil.example:{port}"})
        assert refused.status_code == 421
        assert "HEADRACE_ALLOWED_HOSTS" in refused.json()["detail"]
    written = http.post("/flow_runs", json=RUN, headers={"Host": f"rebind.evil.example:{port}"})
    assert written.status_code == 421
    assert runs_of(http) == []
    for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LocalHost."):
        assert http.get("/flow_runs", headers={"Host": name}).status_code == 200, name


@pytest.mark.parametrize("server_settings_overrides", [{"allowed_hosts": "*"}])
def test_allowed_hosts_star_answers_to_any_name(http: httpx.Client) -> None:
    assert http.get("/flow_runs", headers={"Host": "anything.example"}).status_code == 200


def test_json_bodies_must_be_sent_as_json(http: httpx.Client) -> None:
    body = b'{"flow_name": "guarded"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        refused = http.post("/flow_runs", content=body, headers=headers)
        assert refused.status_code == 415, refused.text
        assert "Content-Type: application/json" in refused.json()["detail"]
    result = http.put(
        "/results/k",
        content=b'{"data": "", "serializer": "json"}',
        headers={"Content-Type": "text/plain"},
    )
    assert result.status_code == 415
    assert runs_of(http) == []
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert http.post("/flow_runs", content=body, headers=charset).is_success


@pytest.mark.parametrize(
    "entrypoint", ["os:system", "subprocess:run", "os.path:join", "builtins:exec", "posix:system"]
)
def test_an_entrypoint_in_the_standard_library_is_refused(
    http: httpx.Client, entrypoint: str
) -> None:
    assert http.post("/work_pools", json={"name": "p", "type": "process"}).is_success
    body = {
        "flow_name": "x",
        "name": "d",
        "entrypoint": entrypoint,
        "path": "/srv",
        "work_pool_name": "p",
    }
    refused = http.post("/deployments", json=body)
    assert refused.status_code == 422, refused.text
    assert "standard-library module" in refused.json()["detail"]
    assert http.get("/deployments").json() == []
    # A file of the user's code folder may have any name.
    assert http.post("/deployments", json={**body, "entrypoint": "os.py:system"}).is_success


def test_events_refuse_an_unknown_filter(http: httpx.Client) -> None:
    for query, where in (("run_id=zzz", "query.run_id"), ("flow_run=zzz", "query.flow_run")):
        refused = http.get(f"/events?{query}")
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith(where)
    with http.stream("GET", f"/events?flow_run={uuid.uuid4()}") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
