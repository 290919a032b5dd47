"""API keys and scopes, end to end over real HTTP against a server with auth on.

The route walk takes every route the app serves (API routes from their declarations, dashboard
pages and the SSE stream from the app itself), so a route added later is checked without
touching this file.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from headrace.client import HeadraceClient
from headrace.errors import ApiError
from headrace.schemas.api_keys import Scope
from headrace_service.api import all_routes
from headrace_service.api.routing import ApiRoute
from headrace_service.app import create_app
from headrace_service.auth import COOKIE_NAME, SCOPE_RANK, generate_key, hash_key
from headrace_service.db import create_engine
from headrace_service.settings import ServerSettings
from headrace_service.store import api_keys as store

CLI = [sys.executable, "-m", "headrace.cli.main"]
# The only routes anyone may call without a key. The OpenAPI document describes the API and
# holds no data; health and readiness are for load balancers.
PUBLIC_PATHS = {"/api/health", "/api/ready", "/api/openapi.json"}
LOGIN_PATHS = {"/login", "/logout"}
# Inbound webhooks: their own secret is their credential (tests/api/test_webhooks_auth.py).
SECRET_PATHS = {"/hooks/{slug}"}


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {"auth_enabled": True}


def make_key(database_url: str, scope: Scope, *, expired: bool = False) -> str:
    """A key written straight to the database (as `headrace server api-key create` does)."""
    key = generate_key()

    async def insert() -> None:
        engine = create_engine(database_url, pool_size=1, pool_timeout=10)
        async with engine.begin() as conn:
            await store.api_key_create(
                conn,
                name=f"{scope.value}-key",
                scope=scope.value,
                key_hash=hash_key(key),
                expires_in_seconds=60 if expired else None,
                now=datetime.now(UTC) - timedelta(hours=1) if expired else None,
            )
        await engine.dispose()

    asyncio.run(insert())
    return key


@pytest.fixture
def keys(live_server: object) -> dict[Scope, str]:
    database_url = live_server.database_url  # type: ignore[attr-defined]
    return {scope: make_key(database_url, scope) for scope in Scope}


@pytest.fixture
def raw(live_server: object) -> Iterator[httpx.Client]:
    """HTTP at the server's root (dashboard and API), no key."""
    root = live_server.url.removesuffix("/api")  # type: ignore[attr-defined]
    with httpx.Client(base_url=root, timeout=15) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path)


def call(raw: httpx.Client, route: ApiRoute, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] | None = {} if route.body is not None else None
    return raw.request(route.method, "/api" + concrete(route.path), json=body, headers=headers)


def lower_scopes(scope: Scope) -> list[Scope]:
    return [s for s in Scope if SCOPE_RANK[s] < SCOPE_RANK[scope]]


def dashboard_routes_of_app() -> list[Route]:
    """Every plain route of the app that is not an API route, the OpenAPI document or login."""
    app = create_app(ServerSettings(auth_enabled=True), "postgresql://unused@localhost/unused")
    api_paths = {("/api" + r.path, r.method) for r in all_routes()}
    found = []
    for route in app.routes:
        if not isinstance(route, Route) or route.path in PUBLIC_PATHS | LOGIN_PATHS | SECRET_PATHS:
            continue
        methods = (route.methods or {"GET"}) - {"HEAD"}
        if not any((route.path, m) in api_paths for m in methods):
            found.append(route)
    return found


def test_scope_declarations_follow_the_policy() -> None:
    """Reads need `read`, nothing that changes state is `read`, and only health is public."""
    for route in all_routes():
        where = f"{route.method} /api{route.path}"
        if route.scope == "public":
            assert "/api" + route.path in PUBLIC_PATHS, f"{where} is public"
        elif route.method == "GET":
            assert route.scope in ("read", "admin"), where
        else:
            assert route.scope in ("worker", "admin"), f"{where} changes state with {route.scope}"
        if route.path.startswith("/api_keys"):
            assert route.scope == "admin", where


def test_every_api_route_needs_a_key_of_its_scope(
    raw: httpx.Client, keys: dict[Scope, str]
) -> None:
    checked = 0
    for route in all_routes():
        if route.scope == "public":
            continue
        where = f"{route.method} /api{route.path}"
        anonymous = call(raw, route, {})
        assert anonymous.status_code == 401, f"{where} without a key: {anonymous.status_code}"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert "API key" in anonymous.json()["detail"]
        needed = Scope(route.scope)
        for weaker in lower_scopes(needed):
            refused = call(raw, route, bearer(keys[weaker]))
            assert refused.status_code == 403, f"{where} with {weaker}: {refused.status_code}"
            assert f"needs scope {needed.value}" in refused.json()["detail"]
        allowed = call(raw, route, bearer(keys[needed]))
        assert allowed.status_code not in (401, 403), f"{where} with {needed}: {allowed.text}"
        checked += 1
    assert checked >= 10


def test_every_dashboard_route_needs_a_read_key(raw: httpx.Client, keys: dict[Scope, str]) -> None:
    routes = dashboard_routes_of_app()
    assert {r.path for r in routes} >= {"/", "/api/events"}
    for route in routes:
        path = concrete(route.path)
        method = sorted((route.methods or {"GET"}) - {"HEAD"})[0]
        api_like = raw.request(method, path)
        assert api_like.status_code == 401, f"{method} {route.path}: {api_like.status_code}"
        assert api_like.json()["detail"]
        page = raw.request(method, path, headers={"Accept": "text/html"})
        assert page.status_code == 401 and 'name="key"' in page.text  # the login form
        if method != "GET":
            refused = raw.request(method, path, headers=bearer(keys[Scope.WORKER]))
            assert refused.status_code == 403
            continue
        # With a read key (header or the dashboard's cookie) the page is served. The SSE stream
        # never ends, so only its status is read.
        for attempt in (bearer(keys[Scope.READ]), {"Cookie": f"{COOKIE_NAME}={keys[Scope.READ]}"}):
            with raw.stream(method, path, headers=attempt) as response:
                assert response.status_code in (200, 404), f"{route.path}: {response.status_code}"


def test_login_sets_a_cookie_that_opens_the_dashboard(
    raw: httpx.Client, keys: dict[Scope, str]
) -> None:
    wrong = raw.post("/login", data={"key": "hr_nope", "next": "/runs"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    login = raw.post("/login", data={"key": keys[Scope.READ], "next": "https://evil.example/"})
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert raw.get("/runs").status_code == 200  # httpx kept the cookie
    # The cookie is a read credential for the API too, but cannot be used to change anything
    # from another site: a write needs the Bearer header or this server's own Origin.
    assert raw.get("/api/flow_runs").status_code == 200
    cross_site = raw.post(
        "/api/flow_runs", json={"flow_name": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert "HEADRACE_ALLOWED_ORIGINS" in cross_site.json()["detail"]
    # Without an Origin the request was not sent by a page: the cookie alone is not a key.
    assert raw.post("/api/flow_runs", json={"flow_name": "x"}).status_code == 401


def test_revoked_key_stops_at_once(raw: httpx.Client, keys: dict[Scope, str]) -> None:
    admin = bearer(keys[Scope.ADMIN])
    created = raw.post("/api/api_keys", json={"name": "ci", "scope": "worker"}, headers=admin)
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert key.startswith("hr_") and len(key) >= 40
    assert raw.get("/api/flow_runs", headers=bearer(key)).status_code == 200
    revoked = raw.delete(f"/api/api_keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = raw.get("/api/flow_runs", headers=bearer(key))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    listed = raw.get("/api/api_keys", headers=admin).json()["items"]
    assert key_id not in {k["id"] for k in listed}
    everything = raw.get("/api/api_keys?include_revoked=true", headers=admin).json()["items"]
    assert key_id in {k["id"] for k in everything}
    assert all("key" not in k and "key_hash" not in k for k in everything)
    assert raw.delete(f"/api/api_keys/{uuid.uuid4()}", headers=admin).status_code == 404


def test_expired_and_unknown_keys_are_refused(live_server: object, raw: httpx.Client) -> None:
    expired = make_key(live_server.database_url, Scope.ADMIN, expired=True)  # type: ignore[attr-defined]
    response = raw.get("/api/flow_runs", headers=bearer(expired))
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    for bad in ("hr_" + "x" * 43, "not-a-key", "hr_" + "x" * 5000):
        assert raw.get("/api/flow_runs", headers=bearer(bad)).status_code == 401
    basic = raw.get("/api/flow_runs", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]


def test_key_with_expiry_and_last_used(raw: httpx.Client, keys: dict[Scope, str]) -> None:
    admin = bearer(keys[Scope.ADMIN])
    created = raw.post(
        "/api/api_keys",
        json={"name": "short", "scope": "read", "expires_in_seconds": 3600},
        headers=admin,
    ).json()
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    assert created["last_used"] is None
    raw.get("/api/flow_runs", headers=bearer(created["key"]))
    listed = {k["id"]: k for k in raw.get("/api/api_keys", headers=admin).json()["items"]}
    assert listed[created["id"]]["last_used"] is not None
    too_long = raw.post(
        "/api/api_keys",
        json={"name": "x", "scope": "read", "expires_in_seconds": 10**12},
        headers=admin,
    )
    assert too_long.status_code == 422 and "expires_in_seconds" in too_long.json()["detail"]


def test_health_and_openapi_stay_public(raw: httpx.Client) -> None:
    for path in PUBLIC_PATHS:
        assert raw.get(path).status_code == 200, path
    document = raw.get("/api/openapi.json").json()
    operation = document["paths"]["/api/flow_runs"]["post"]
    assert operation["security"] == [{"bearer": ["worker"]}] and "403" in operation["responses"]


def test_sdk_client_sends_the_key(api_url: str, keys: dict[Scope, str]) -> None:
    with HeadraceClient(api_url, api_key=keys[Scope.READ], retries=0) as reader:
        assert reader.get_json("/flow_runs")["items"] == []
        with pytest.raises(ApiError) as refused:
            reader.request("POST", "/flow_runs", json={"flow_name": "f"})
        assert refused.value.status_code == 403
    with HeadraceClient(api_url, api_key=keys[Scope.WORKER], retries=0) as worker:
        run = worker.request("POST", "/flow_runs", json={"flow_name": "f"}).json()
        assert run["flow_name"] == "f"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    environ.update(env)
    return subprocess.run([*CLI, *args], env=environ, capture_output=True, text=True, timeout=60)


def test_operator_bootstraps_an_admin_key_then_uses_the_cli(live_server: object) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    database_url = live_server.database_url  # type: ignore[attr-defined]
    boot = cli("server", "api-key", "create", "ops", HEADRACE_DATABASE_URL=database_url)
    assert boot.returncode == 0, boot.stderr
    admin_key = boot.stdout.strip()
    assert admin_key.startswith("hr_") and "shown only now" in boot.stderr

    anonymous = cli("api-key", "ls", HEADRACE_API_URL=url)
    assert anonymous.returncode == 2 and anonymous.stderr.count("\n") == 1
    assert "API key" in anonymous.stderr

    as_admin = {"HEADRACE_API_URL": url, "HEADRACE_API_KEY": admin_key}
    made = cli("api-key", "create", "ci", "--scope", "worker", "--expires-in", "30d", **as_admin)
    assert made.returncode == 0, made.stderr
    worker_key = made.stdout.strip()
    listing = cli("api-key", "ls", "--json", **as_admin)
    assert listing.returncode == 0, listing.stderr
    assert {"ops", "ci"} <= set(re.findall(r'"name": "(\w+)"', listing.stdout))
    assert worker_key not in listing.stdout and admin_key not in listing.stdout

    as_worker = {"HEADRACE_API_URL": url, "HEADRACE_API_KEY": worker_key}
    forbidden = cli("api-key", "ls", **as_worker)
    assert forbidden.returncode == 2 and "needs scope admin" in forbidden.stderr

    ci_id = re.search(r'"id": "([0-9a-f-]+)",\s+"name": "ci"', listing.stdout)
    assert ci_id is not None
    revoked = cli("api-key", "revoke", ci_id.group(1), **as_admin)
    assert revoked.returncode == 0, revoked.stderr
    assert cli("flow-run", "ls", **as_worker).returncode == 2

    bad = cli("api-key", "create", "x", "--expires-in", "soon", **as_admin)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--expires-in" in bad.stderr
