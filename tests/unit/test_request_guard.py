"""The request guard's policy from the settings: which Host names and origins it trusts."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from headrace_service.errors import StartupError
from headrace_service.request_guard import allowed_hosts, guard_policy, host_name, refusal
from headrace_service.settings import ServerSettings


def settings(**fields: object) -> ServerSettings:
    return ServerSettings(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"localhost", "127.0.0.1", "::1"}),
        ({"host": "127.0.0.2"}, {"localhost", "127.0.0.1", "::1", "127.0.0.2"}),
        ({"host": "[::1]"}, {"localhost", "127.0.0.1", "::1"}),
        # Another address needs a key (or --insecure-no-auth): workers use names it cannot know.
        ({"host": "0.0.0.0"}, None),
        ({"host": "10.1.2.3"}, None),
        ({"allowed_hosts": "Headrace.Example.com, server"}, {"headrace.example.com", "server"}),
        ({"host": "0.0.0.0", "allowed_hosts": "server"}, {"server"}),
        ({"allowed_hosts": "server,*"}, None),
    ],
)
def test_allowed_hosts(fields: dict[str, object], expected: set[str] | None) -> None:
    hosts = allowed_hosts(settings(**fields))
    assert hosts == (None if expected is None else frozenset(expected))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:4200", "localhost"),
        ("[::1]:4200", "::1"),
        ("Example.COM.", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("origin", ["ops.example.com", "https://ops.example.com/path", "null"])
def test_a_malformed_allowed_origin_stops_the_start(origin: str) -> None:
    with pytest.raises(StartupError, match=r"HEADRACE_ALLOWED_ORIGINS: .* is not an origin"):
        guard_policy(settings(allowed_origins=origin))


def test_an_allowed_origin_matches_whatever_its_case() -> None:
    policy = guard_policy(settings(allowed_origins="https://Ops.Example.com/"))
    page = Headers({"host": "127.0.0.1:4200", "origin": "https://ops.example.com"})
    assert refusal("POST", page, policy) is None
    other = Headers({"host": "127.0.0.1:4200", "origin": "https://ops.example.com:8443"})
    refused = refusal("PATCH", other, policy)
    assert refused is not None and refused[0] == 403
