"""One client per API URL and key in this process, for SDK calls made outside a flow run's own
client (concurrency slots, run inputs): repeated calls reuse its connections instead of opening
(and, for https, handshaking) new ones each time."""

from __future__ import annotations

import threading

from headrace.client import HeadraceClient
from headrace.settings import client_settings

_clients: dict[tuple[str, str | None], HeadraceClient] = {}
_clients_lock = threading.Lock()


def shared_client() -> HeadraceClient:
    """The process's client for the current settings' API URL and key."""
    settings = client_settings()
    key = (settings.api_url, settings.api_key)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = HeadraceClient()
        return _clients[key]
