"""Inbound webhooks on a server with auth on: managing them takes an admin key; sending to one
takes its secret and no API key."""

from __future__ import annotations

import httpx
import pytest

from headrace.schemas.api_keys import Scope
from tests.api.test_auth import make_key


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {"auth_enabled": True}


def test_webhooks_need_an_admin_key_to_manage_and_only_their_secret_to_send(
    api_url: str, database_url: str
) -> None:
    body = {
        "name": "ci",
        "template": '{"event": "ci.done", "resource": {"headrace.resource.id": "ci"}}',
    }
    anonymous = httpx.post(f"{api_url}/webhooks", json=body)
    assert anonymous.status_code == 401
    reader = {"Authorization": f"Bearer {make_key(database_url, Scope.READ)}"}
    assert httpx.post(f"{api_url}/webhooks", json=body, headers=reader).status_code == 403
    admin = {"Authorization": f"Bearer {make_key(database_url, Scope.ADMIN)}"}
    made = httpx.post(f"{api_url}/webhooks", json=body, headers=admin)
    assert made.status_code == 201, made.text
    hook = api_url.removesuffix("/api") + made.json()["path"]

    # The admin key is not the webhook's secret.
    assert httpx.post(hook, json={}, headers=admin).status_code == 401
    sent = httpx.post(hook, json={}, headers={"X-Headrace-Webhook-Secret": made.json()["secret"]})
    assert sent.status_code == 202, sent.text
    listed = httpx.get(f"{api_url}/webhooks", headers=reader).json()
    assert [(w["received"], w["rejected"]) for w in listed] == [(1, 1)]
    assert all("secret" not in w and "secret_hash" not in w for w in listed)
