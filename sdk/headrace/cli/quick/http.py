"""One GET of the API with the standard library's `http.client` (httpx and its stack take about
a fifth of a typed command's start).

It tries once, on the API URL the typed client starts with, with its read timeout, its TLS
verification and its `Authorization` header. Whatever is not a plain answer (no connection, a
timeout, an error status, a body that is not JSON) is None: the quick command gives way to the
typed one, which retries, fails over to other replicas and words the error. So that giving way
costs little when the API's host is gone, connecting gets one second here (the typed client
waits five); an API that takes longer than the read timeout to answer is waited for twice.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from headrace.cli.quick.settings import QuickSettings
from headrace.errors import SettingsError

# An API that is up connects in milliseconds; the typed client, given way to, waits longer.
CONNECT_TIMEOUT_SECONDS = 1.0


def get_json(settings: QuickSettings, path: str) -> Any | None:
    """The JSON of a 200 answer to `GET {API URL}{path}`, or None."""
    url = urlsplit(settings.api_urls[0] + path)
    connect_timeout = min(settings.timeout_seconds, CONNECT_TIMEOUT_SECONDS)
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        from headrace.api_tls import verify_context  # ssl: only for https

        try:
            context = verify_context(settings.api_urls, settings.ca_file)
        except SettingsError:
            return None
        assert not isinstance(context, bool)  # an https URL always gets a context
        connection = http.client.HTTPSConnection(
            url.hostname or "", url.port, timeout=connect_timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            url.hostname or "", url.port, timeout=connect_timeout
        )
    headers = {"Accept": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(settings.timeout_seconds)
        connection.request(
            "GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers
        )
        response = connection.getresponse()
        if response.status != 200:
            return None
        return json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
