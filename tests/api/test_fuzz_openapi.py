"""Schemathesis against the live app's OpenAPI document, with an admin key: no 5xx, no response
that breaks its own schema.

`make test` runs a small, seeded run (same cases every time); `make fuzz` sets
HEADRACE_TEST_FUZZ_EXAMPLES higher and HEADRACE_TEST_FUZZ_SEED=random for a long, new run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.schemas.api_keys import Scope
from headrace_service.auth import create_api_key
from headrace_service.db import create_engine

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
        # Stateful phase (make fuzz): links between operations are inferred from the document
        # (a created pool's name feeds GET /work_pools/{name}, ...); a resource must be
        # readable after its creation and gone after its deletion.
        "ensure_resource_availability",
        "use_after_free",
    ]
)
# The fuzzer must not revoke the key it fuzzes with (it finds the key's id in the listing).
EXCLUDED_OPERATIONS = ["revoke_api_key"]


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {"auth_enabled": True}


def admin_key(database_url: str) -> str:
    async def create() -> str:
        engine = create_engine(database_url, pool_size=1, pool_timeout=10)
        async with engine.begin() as conn:
            _, key = await create_api_key(
                conn, name="fuzz", scope=Scope.ADMIN, expires_in_seconds=None
            )
        await engine.dispose()
        return key

    return asyncio.run(create())


def test_fuzzed_api_has_no_server_errors_and_keeps_its_schema(
    live_server: object, tmp_path: Path
) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    key = admin_key(live_server.database_url)  # type: ignore[attr-defined]
    examples = os.environ.get("HEADRACE_TEST_FUZZ_EXAMPLES", "8")
    seed = os.environ.get("HEADRACE_TEST_FUZZ_SEED", "20261124")
    long_run = int(examples) >= 50
    phases = "examples,coverage,fuzzing,stateful" if long_run else "fuzzing"
    # One worker on long runs: the coverage phase calls ast.parse from worker threads, which
    # CPython 3.11 sometimes fails ("AST constructor recursion depth mismatch").
    workers = "1" if long_run else "2"
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        examples,
        "--phases",
        phases,
        "--workers",
        workers,
        "--request-timeout",
        "40",
        "--generation-database",
        "none",
        "--no-color",
        *[arg for op in EXCLUDED_OPERATIONS for arg in ("--exclude-operation-id", op)],
        *([] if seed == "random" else ["--seed", seed]),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    assert "Tested: " in report
