"""SecretStr parameters in every shape a type hint can put them: a read key never sees them.

The schema is the one the SDK makes from a real flow's hints; the deployment, its runs and its
schedules are made over HTTP with an admin key, then read with a read key through every API
response and dashboard page that shows parameters.
"""

# With string hints, as a user's script may have them: the SDK evaluates them in this module.
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr

from headrace.parameters import ParameterModel
from headrace.schemas.api_keys import Scope
from headrace.schemas.secrets import SECRET_MASK, mask_secret_parameters
from tests.api.test_auth import bearer, make_key

SECRET = "s3cr3t"


class Login(BaseModel):
    user: str
    password: SecretStr


@dataclasses.dataclass
class Vault:
    url: str
    token: SecretStr


class Inner(BaseModel):
    logins: list[Login]


def connect(
    plain: str,
    maybe: SecretStr | None = None,
    login: Login | None = None,
    vault: Vault | None = None,
    tokens: list[SecretStr] | None = None,
    by_host: dict[str, SecretStr] | None = None,
    pair: tuple[str, SecretStr] | None = None,
    nested: Inner | None = None,
) -> None:
    """A flow's signature with a secret in each shape."""


SCHEMA = ParameterModel(connect).json_schema()


def values(tag: str) -> dict[str, Any]:
    """Parameters with a distinct secret in each place; every secret contains SECRET."""
    s = f"{SECRET}-{tag}"
    return {
        "plain": f"visible-{tag}",
        "maybe": f"{s}-maybe",
        "login": {"user": "ada", "password": f"{s}-login"},
        "vault": {"url": "https://vault", "token": f"{s}-vault"},
        "tokens": [f"{s}-t1", f"{s}-t2"],
        "by_host": {"db1": f"{s}-db1"},
        "pair": ["name", f"{s}-pair"],
        "nested": {"logins": [{"user": "bob", "password": f"{s}-nested"}]},
    }


MASKED = {
    "maybe": SECRET_MASK,
    "login": {"user": "ada", "password": SECRET_MASK},
    "vault": {"url": "https://vault", "token": SECRET_MASK},
    "tokens": [SECRET_MASK, SECRET_MASK],
    "by_host": {"db1": SECRET_MASK},
    "pair": ["name", SECRET_MASK],
    "nested": {"logins": [{"user": "bob", "password": SECRET_MASK}]},
}


def test_every_shape_is_masked_and_nothing_else() -> None:
    masked = mask_secret_parameters(values("x"), SCHEMA)
    assert masked == {"plain": "visible-x", **MASKED}
    # None stays None (nothing to hide), and a missing parameter stays missing.
    assert mask_secret_parameters({"maybe": None}, SCHEMA) == {"maybe": None}


def test_a_self_referring_schema_ends() -> None:
    schema = {
        "properties": {"tree": {"$ref": "#/$defs/Node"}},
        "$defs": {
            "Node": {
                "anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}],
                "properties": {
                    "key": {"type": "string", "writeOnly": True},
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    tree = {"key": "k1", "kids": [{"key": "k2", "kids": []}]}
    masked = mask_secret_parameters({"tree": tree}, schema)
    assert SECRET_MASK in str(masked) and "k1" not in str(masked) and "k2" not in str(masked)


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {"auth_enabled": True}


@pytest.fixture
def keyed(live_server: Any) -> Iterator[dict[Scope, httpx.Client]]:
    """A client per scope, at the server's root (dashboard and API)."""
    root = live_server.url.removesuffix("/api")
    clients = {
        scope: httpx.Client(
            base_url=root, timeout=15, headers=bearer(make_key(live_server.database_url, scope))
        )
        for scope in Scope
    }
    yield clients
    for client in clients.values():
        client.close()


def test_a_read_key_never_sees_a_secret_anywhere(keyed: dict[Scope, httpx.Client]) -> None:
    admin, read, worker = keyed[Scope.ADMIN], keyed[Scope.READ], keyed[Scope.WORKER]
    assert admin.post("/api/work_pools", json={"name": "vaulted", "type": "process"}).is_success
    created = admin.post(
        "/api/deployments",
        json={
            "flow_name": "connect",
            "name": "db",
            "entrypoint": "flows.py:connect",
            "path": "/tmp",
            "work_pool_name": "vaulted",
            "parameter_schema": SCHEMA,
            "parameters": values("default"),
            "schedules": [{"schedule": {"interval": 3600}, "parameters": values("deploy-sched")}],
        },
    )
    assert created.status_code == 201, created.text
    deployment_id = created.json()["id"]
    added = admin.post(
        f"/api/deployments/{deployment_id}/schedules",
        json={"schedule": {"cron": "0 6 * * *"}, "parameters": values("sched")},
    )
    assert added.status_code == 201, added.text
    schedule_id = added.json()["id"]
    run = admin.post(f"/api/deployments/{deployment_id}/runs", json={"parameters": values("run")})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    answers = {
        "create deployment": created,
        "create schedule": added,
        "create run": run,
        "patch schedule": admin.patch(
            f"/api/deployment_schedules/{schedule_id}", json={"parameters": values("patched")}
        ),
    }
    for path in (
        f"/api/deployments/{deployment_id}",
        "/api/deployments",
        f"/api/deployments/{deployment_id}/schedules",
        f"/api/deployment_schedules/{schedule_id}",
        f"/api/flow_runs/{run_id}",
        f"/api/flow_runs/{run_id}/wait?timeout=0",
        "/api/flow_runs",
        f"/runs/{run_id}",
        f"/runs/{run_id}?part=live",
        f"/deployments/{deployment_id}",
    ):
        answers[path] = read.get(path)
    for where, answer in answers.items():
        assert answer.is_success, (where, answer.text)
        assert SECRET not in answer.text, where
    assert read.get(f"/api/flow_runs/{run_id}").json()["parameters"] == {
        "plain": "visible-run",
        **MASKED,
    }
    # The run itself still gets every value (the engine reads it this way, with a worker key).
    revealed = worker.get(f"/api/flow_runs/{run_id}", params={"reveal_secrets": "true"}).json()
    assert revealed["parameters"] == values("run")
