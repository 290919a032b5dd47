"""The worker's pure pieces: exit descriptions, code checks, `--param` parsing, pool types."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headrace.cli.params import parse_params
from headrace.pool_types import installed_pool_types, unknown_pool_type_message
from headrace.schemas.work_pools import ClaimedRun
from headrace_worker.process_runner import exit_description, missing_code
from tests.second_pool_type import install_second_pool_type


def claimed(path: str | None, entrypoint: str = "flows/etl.py:etl") -> ClaimedRun:
    now = datetime.now(UTC).isoformat()
    run: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "r",
        "flow_id": str(uuid.uuid4()),
        "flow_name": "etl",
        "parameters": {},
        "tags": [],
        "state_type": "PENDING",
        "state_name": "Pending",
        "state_timestamp": now,
        "run_count": 0,
        "max_retries": 0,
        "created": now,
        "updated": now,
    }
    return ClaimedRun.model_validate(
        {
            "flow_run": run,
            "deployment_id": str(uuid.uuid4()),
            "deployment_name": "daily",
            "flow_name": "etl",
            "entrypoint": entrypoint,
            "path": path,
            "lease_expires_at": now,
        }
    )


def test_exit_description_names_the_code_or_the_signal() -> None:
    exited = subprocess.run([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert exit_description(exited.returncode) == "flow process exited with code 3"
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.send_signal(signal.SIGKILL)
    assert exit_description(killed.wait()) == "flow process was killed by signal 9 (SIGKILL)"


def test_missing_code_names_the_missing_path(tmp_path: Path) -> None:
    assert "does not exist" in (missing_code(claimed(str(tmp_path / "gone"))) or "")
    assert str(tmp_path / "gone") in (missing_code(claimed(str(tmp_path / "gone"))) or "")
    problem = missing_code(claimed(str(tmp_path)))
    assert problem == f"the entrypoint file {tmp_path / 'flows/etl.py'} does not exist"
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text("")
    assert missing_code(claimed(str(tmp_path))) is None
    assert missing_code(claimed(str(tmp_path), "package.module:etl")) is None


def test_params_are_json_when_they_parse_else_strings() -> None:
    assert parse_params(["day=2026-11-24", "n=3", "flags=[1, 2]", "on=true", "s=a=b"]) == {
        "day": "2026-11-24",
        "n": 3,
        "flags": [1, 2],
        "on": True,
        "s": "a=b",
    }


def test_a_param_without_equals_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_params(["day"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --param 'day': expected key=value")


def test_pool_types_are_found_by_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headrace_worker.pool_types import RunContext, pool_type

    # A pool type only keeps its context until a run starts.
    context: Any = RunContext(
        client=None, worker_id=uuid.uuid4(), api_key=None, logs=None, settings=None
    )  # type: ignore[arg-type]
    assert pool_type("process", context).name == "process"
    assert pool_type("docker", context).name == "docker"
    with pytest.raises(ValueError, match=r"installed types: docker, process$"):
        pool_type("second", context)
    install_second_pool_type(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(installed_pool_types()) == {"docker", "process", "second"}
    assert pool_type("second", context).name == "second"
    assert unknown_pool_type_message("x") == (
        "unknown work pool type 'x'; installed types: docker, process, second"
    )
