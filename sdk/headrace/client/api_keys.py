"""`/api_keys`: who may call the API (admin key needed)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from headrace.client.transport import segment
from headrace.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyQuery

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient


def create(client: HeadraceClient, body: ApiKeyCreate) -> ApiKeyCreated:
    """A new key: the answer is the only time the key itself is shown."""
    return client.call("POST", "/api_keys", ApiKeyCreated, body)


def list_keys(client: HeadraceClient, query: ApiKeyQuery) -> ApiKeyList:
    return client.call("GET", "/api_keys", ApiKeyList, query=query)


def revoke(client: HeadraceClient, key_id: uuid.UUID | str) -> ApiKey:
    return client.call("DELETE", f"/api_keys/{segment(key_id)}", ApiKey)
