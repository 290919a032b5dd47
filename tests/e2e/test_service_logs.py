"""The server's own logs: JSON lines with request ids, and no secrets, from a real process."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

SECRET = "hr_" + "s3cr3t" * 6


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every non-empty line of the output, parsed (fails on any line that is not JSON)."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_json_logs_carry_request_ids_and_never_a_key(
    start_server: Callable[..., Any], database_url: str
) -> None:
    server = start_server(database_url=database_url, log_format="json", log_level="debug")
    given = httpx.get(server.url + "/health", headers={"X-Request-ID": "lb-42.a:b"})
    made = httpx.get(
        f"{server.url}/flow_runs/{SECRET}", headers={"Authorization": f"Bearer {SECRET}"}
    )
    refused = httpx.get(server.url + "/health", headers={"X-Request-ID": "bad id\twith space"})
    assert given.headers["X-Request-ID"] == "lb-42.a:b"
    assert len(made.headers["X-Request-ID"]) == 32 and made.status_code in (404, 422)
    assert refused.headers["X-Request-ID"] not in ("", "bad id\twith space")
    assert server.stop() == 0
    output = server.process.stdout.read()

    lines = json_lines(output)
    assert all({"timestamp", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any("headrace server on" in line["message"] for line in lines)
    access = {line.get("request_id"): line for line in lines if line["logger"] == "headrace.access"}
    assert access["lb-42.a:b"]["message"].startswith("GET /api/health 200")
    assert "[redacted]" in access[made.headers["X-Request-ID"]]["message"]
    assert SECRET not in output and "s3cr3t" not in output


def test_text_logs_stay_plain_text(start_server: Callable[..., Any], database_url: str) -> None:
    server = start_server(database_url=database_url, log_level="debug")
    response = httpx.get(server.url + "/health", headers={"X-Request-ID": "plain-1"})
    assert response.headers["X-Request-ID"] == "plain-1"
    assert server.stop() == 0
    output = server.process.stdout.read()
    assert "headrace server on http://" in output
    assert "DEBUG headrace.access: GET /api/health 200" in output
    assert "[request plain-1]" in output
