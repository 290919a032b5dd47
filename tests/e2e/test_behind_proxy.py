"""Behind a TLS-terminating reverse proxy (issue 20): X-Forwarded-Proto is believed from the
proxies HEADRACE_FORWARDED_ALLOW_IPS lists, so the login cookie is Secure; from anyone else it
is a claim, and ignored. The "proxy" is a client on another loopback address (127.0.0.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

KEY = "hr_" + "proxied" * 6


def login_cookie_attributes(root: str, source_address: str) -> set[str]:
    """The attributes of the cookie a login sent through `source_address` sets."""
    transport = httpx.HTTPTransport(local_address=source_address)
    with httpx.Client(base_url=root, transport=transport, timeout=15) as client:
        response = client.post(
            "/login", data={"key": KEY, "next": "/"}, headers={"X-Forwarded-Proto": "https"}
        )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_login_cookie_is_secure_behind_a_listed_proxy_only(
    start_server: Callable[..., Any], database_url: str
) -> None:
    server = start_server(
        database_url=database_url,
        auth_enabled="true",
        bootstrap_api_key=KEY,
        forwarded_allow_ips="127.0.0.2",
    )
    root = server.url.removesuffix("/api")
    assert "secure" in login_cookie_attributes(root, "127.0.0.2")
    assert "secure" not in login_cookie_attributes(root, "127.0.0.1")
