"""Retry from failure through a real server, worker and deployment: a flow of 100 tasks fails
at task 90 (a file is missing); once the file exists, `headrace flow-run retry ID
--from-failure` runs tasks 90-100 only, and the run ends Completed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HUNDRED = """

from pathlib import Path as _Path

from headrace import task as _task

_DONE = _Path({done!r})
_NEEDED = _Path({needed!r})


@_task
def step(i: int) -> int:
    if i == 90:
        _NEEDED.read_text()  # FileNotFoundError until the user creates it
    with _DONE.open("a") as out:  # the side effect that says the task was executed
        out.write(f"{{i}}\\n")
    return i


@flow(resume_from_failure=True)
def hundred() -> int:
    return sum(step(i) for i in range(1, 101))
"""


def wait_final(stack: Any, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = stack.read(run_id)
        if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def failed_hundred(
    deployment_stack: Callable[..., Any], tmp_path: Path
) -> tuple[Any, Path, Path, str]:
    """The hundred-task flow deployed, run by a worker, and Failed at task 90 (no file)."""
    stack = deployment_stack()
    done, needed = tmp_path / "executed.txt", tmp_path / "needed.txt"
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + HUNDRED.format(done=str(done), needed=str(needed)))
    name = stack.deploy("hundred")
    stack.start_worker()
    run_id = stack.cli("deployment", "run", name).stdout.strip()
    assert wait_final(stack, run_id)["state_type"] == "FAILED"
    return stack, done, needed, run_id


def test_retry_from_failure_runs_only_the_failed_step_and_after(
    deployment_stack: Callable[..., Any], tmp_path: Path
) -> None:
    stack, done, needed, run_id = failed_hundred(deployment_stack, tmp_path)
    failed = stack.read(run_id)
    assert failed["state_type"] == "FAILED", failed
    assert "needed.txt" in (failed["state_message"] or ""), failed
    assert done.read_text().split() == [str(i) for i in range(1, 90)]

    # The fix: the file exists now. Retry from failure, by hand, as a user does.
    needed.write_text("here\n")
    retried = stack.cli("flow-run", "retry", run_id, "--from-failure")
    assert "AwaitingRetry" in retried.stdout or "Scheduled" in retried.stdout, retried.stdout
    finished = wait_final(stack, run_id)
    assert finished["state_type"] == "COMPLETED", finished
    assert finished["run_count"] == 2, finished

    # Tasks 1-89 were not executed again; 90-100 ran once.
    assert done.read_text().split() == [str(i) for i in range(1, 101)]
    task_runs = {t["name"]: t for t in stack.http.get(f"/flow_runs/{run_id}/task_runs").json()}
    assert len(task_runs) == 100
    assert task_runs["step-0"]["state_name"] == "Reused"
    assert task_runs["step-0"]["state_message"] == "reused from attempt 1"
    assert task_runs["step-88"]["state_name"] == "Reused"
    assert task_runs["step-89"]["state_name"] == "Completed"
    assert task_runs["step-99"]["state_name"] == "Completed"


def test_retry_from_the_start_runs_everything_and_bad_retries_are_refused(
    deployment_stack: Callable[..., Any], tmp_path: Path
) -> None:
    stack, done, needed, run_id = failed_hundred(deployment_stack, tmp_path)

    # A failed run cannot be retried with a body the API does not know.
    bad = stack.http.post(f"/flow_runs/{run_id}/retry", json={"from_failure": "perhaps"})
    assert bad.status_code == 422 and "from_failure" in bad.text, bad.text

    needed.write_text("here\n")
    retried = stack.http.post(f"/flow_runs/{run_id}/retry", json={"from_failure": False})
    assert retried.status_code == 200, retried.text
    assert retried.json()["state_type"] == "SCHEDULED"
    assert wait_final(stack, run_id)["state_type"] == "COMPLETED"
    lines = done.read_text().split()
    assert lines == [str(i) for i in range(1, 90)] + [str(i) for i in range(1, 101)]

    # A completed run is not retried; the CLI says why in one line, exit code 2.
    again = stack.cli("flow-run", "retry", run_id, "--from-failure", check=False)
    assert again.returncode == 2, again
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "only a Failed or Crashed run can be retried" in again.stderr


TEN = """

from pathlib import Path as _P10

from headrace import task as _task10

_LOG = _P10({done!r})


@_task10
def part(i: int) -> int:
    if i == 5:
        raise RuntimeError("part 5 is broken")
    with _LOG.open("a") as out:
        out.write(f"part {{i}}\\n")
    return i


@flow(resume_from_failure=True)
def ten() -> int:
    return sum(part(i) for i in range(10))
"""

# The fix, deployed between the attempts: part 5 works, and a new task runs before it.
TEN_FIXED = """

@_task10
def announce() -> None:
    with _LOG.open("a") as out:
        out.write("announce\\n")


@_task10
def part(i: int) -> int:
    with _LOG.open("a") as out:
        out.write(f"part {i}\\n")
    return i


@flow(resume_from_failure=True)
def ten() -> int:
    total = 0
    for i in range(10):
        if i == 5:
            announce()
        total += part(i)
    return total
"""


def test_code_changed_between_attempts_a_task_added_before_the_failed_step(
    deployment_stack: Callable[..., Any], tmp_path: Path
) -> None:
    stack = deployment_stack()
    done = tmp_path / "executed.txt"
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + TEN.format(done=str(done)))
    name = stack.deploy("ten")
    stack.start_worker()
    run_id = stack.cli("deployment", "run", name).stdout.strip()
    assert wait_final(stack, run_id)["state_type"] == "FAILED"

    jobs.write_text(jobs.read_text() + TEN_FIXED)  # later definitions replace the earlier
    stack.cli("flow-run", "retry", run_id, "--from-failure")
    assert wait_final(stack, run_id)["state_type"] == "COMPLETED"
    first = [f"part {i}" for i in range(5)]
    assert done.read_text().splitlines() == [
        *first,
        "announce",
        *(f"part {i}" for i in range(5, 10)),
    ]
    states = {
        t["name"]: t["state_name"] for t in stack.http.get(f"/flow_runs/{run_id}/task_runs").json()
    }
    assert [states[f"part-{i}"] for i in range(5)] == ["Reused"] * 5
    assert states["announce-0"] == "Completed"
