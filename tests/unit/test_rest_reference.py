"""docs/rest-api.md is generated from the API's OpenAPI document and must be up to date."""

from __future__ import annotations

from pathlib import Path

from headrace_service.api import all_routes
from headrace_service.api.openapi import openapi_path
from headrace_service.app import API_PREFIX

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_is_listed_with_the_scope_it_enforces() -> None:
    """Each declared route (the same list the server serves and guards) has its row, with the
    scope `require_scope` checks, and its section."""
    page = (ROOT / "docs" / "rest-api.md").read_text()
    routes = all_routes()
    assert len(routes) > 30
    for route in routes:
        path = API_PREFIX + openapi_path(route.path)
        assert f"### {route.method} {path}\n" in page, f"{route.method} {path} is missing"
        row = next(
            line for line in page.splitlines() if line.startswith(f"| {route.method} | [`{path}`]")
        )
        assert f"| `{route.scope}` |" in row, (row, route.scope)
