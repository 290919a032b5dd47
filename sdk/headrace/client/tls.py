"""The TLS context the client verifies servers with, built only when a URL needs it.

httpx builds a default context (loading the CA bundle: 40 to 150 ms of CPU) for every client it
makes, even one that only ever talks plain http to 127.0.0.1. A flow process makes a client
before its first line runs, so that cost was on every run's start. Here a client whose URLs are
all `http://` gets an empty context (never used), and the real one is built once per process.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Sequence

import httpx

_verified: ssl.SSLContext | None = None
_lock = threading.Lock()


def verify_context(api_urls: Sequence[str]) -> ssl.SSLContext:
    """What to pass as httpx's `verify` for a client of `api_urls`."""
    if not any(url.lower().startswith("https:") for url in api_urls):
        # No server is ever verified with it: no certificates are loaded.
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    global _verified
    with _lock:
        if _verified is None:
            # As httpx's default (certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set).
            _verified = httpx.create_ssl_context()
        return _verified
