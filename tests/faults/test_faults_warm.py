"""The warm process runner (`--start-method fork`, the default on Linux): flow processes forked
from the worker's ready interpreter behave as spawned ones do. Real server, real workers, real
signals; the flows report what they saw through files and the ledger of conftest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import running, started, wait_for

pytestmark = pytest.mark.slow

WARM_FLOWS = """

import ctypes
import json


def _started() -> None:
    # With its parent's pid: the test checks it is the ready interpreter.
    _ledger(run=os.environ["HEADRACE_FLOW_RUN_ID"], attempt=1, pid=os.getpid(),
            ppid=os.getppid(), event="start", t=time.time())


@flow
def exits(code: int) -> None:
    _started()
    os._exit(code)


@flow
def segfaults() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV


@flow
def version() -> None:
    Path("version.txt").write_text("v1")


@flow
def nap(seconds: float) -> None:
    _started()
    time.sleep(seconds)


@flow
def litter() -> None:
    # What a careless flow leaves behind in its process: none may reach another run.
    import headrace
    os.environ["LEFT_BY_LITTER"] = "1"
    os.chdir("/")
    headrace.left_by_litter = True


@flow
def look(out: str) -> None:
    import headrace
    Path(out).write_text(json.dumps({
        "env": os.environ.get("LEFT_BY_LITTER"),
        "cwd": os.getcwd(),
        "module": hasattr(headrace, "left_by_litter"),
        "run": os.environ["HEADRACE_FLOW_RUN_ID"],
    }))
"""


@pytest.fixture
def warm_stack(fault_stack: Any) -> Any:
    with open(fault_stack.folder / "flows" / "jobs.py", "a") as jobs:
        jobs.write(WARM_FLOWS)
    return fault_stack


def forked_by_ready_interpreter(entry: dict[str, Any]) -> bool:
    cmdline = Path(f"/proc/{entry['ppid']}/cmdline").read_bytes()
    return b"headrace_worker.zygote" in cmdline


# 0 too: a process that exits "successfully" without having recorded its final state crashed
# (the worker goes by what the flow process reported, not by its exit code).
@pytest.mark.parametrize("code", [3, 0])
def test_a_child_that_exits_is_crashed_with_its_exit_code(
    warm_stack: Any, ledger: Any, code: int
) -> None:
    stack = warm_stack
    stack.start_worker("--pool", stack.pool)
    run_id = stack.run(stack.deploy("exits"), code=code)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    run = stack.wait_state(run_id)
    assert run["state_type"] == "CRASHED", run
    assert run["state_message"] == (
        f"flow process exited with code {code} without reporting a final state"
    )
    assert forked_by_ready_interpreter(entry)


def test_a_segfaulting_child_is_crashed_with_sigsegv(warm_stack: Any) -> None:
    stack = warm_stack
    stack.start_worker("--pool", stack.pool)
    run = stack.wait_state(stack.run(stack.deploy("segfaults")))
    assert run["state_type"] == "CRASHED", run
    assert "signal 11 (SIGSEGV)" in run["state_message"], run["state_message"]


def test_a_flow_file_changed_between_two_runs_runs_the_new_code(warm_stack: Any) -> None:
    stack = warm_stack
    stack.start_worker("--pool", stack.pool)
    deployment = stack.deploy("version")
    written = stack.folder / "version.txt"
    assert stack.wait_state(stack.run(deployment))["state_type"] == "COMPLETED"
    assert written.read_text() == "v1"
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text().replace('write_text("v1")', 'write_text("v2")'))
    assert stack.wait_state(stack.run(deployment))["state_type"] == "COMPLETED"
    assert written.read_text() == "v2"


def test_env_cwd_and_modules_of_one_deployment_never_reach_another(
    warm_stack: Any, tmp_path: Path
) -> None:
    stack = warm_stack
    # The second deployment's code lives in a folder of its own.
    other = tmp_path / "other"
    (other / "flows").mkdir(parents=True)
    (other / "flows" / "jobs.py").write_text((stack.folder / "flows" / "jobs.py").read_text())
    litter = stack.deploy("litter")
    pool = stack.pool
    subprocess.run(
        [*HEADRACE_CLI, "deploy", "flows/jobs.py:look", "--name", pool, "--pool", pool],
        cwd=other,
        env=stack.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    stack.start_worker("--pool", pool, "--limit", "1")
    assert stack.wait_state(stack.run(litter))["state_type"] == "COMPLETED"
    out = tmp_path / "seen.json"
    run = stack.wait_state(stack.run(f"look/{pool}", out=str(out)))
    assert run["state_type"] == "COMPLETED", run
    seen = json.loads(out.read_text())
    assert seen == {"env": None, "cwd": str(other), "module": False, "run": run["id"]}


def test_sigkill_of_the_worker_kills_its_ready_interpreter_and_flow_process(
    warm_stack: Any, ledger: Any
) -> None:
    stack = warm_stack
    worker = stack.start_worker("--pool", stack.pool)
    run_id = stack.run(stack.deploy("nap"), seconds=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    ready_interpreter = entry["ppid"]
    assert forked_by_ready_interpreter(entry)
    worker.kill()
    killed = time.monotonic()
    wait_for(
        lambda: not running(entry["pid"]) and not running(ready_interpreter),
        5,
        "the flow process and the ready interpreter gone",
    )
    assert time.monotonic() - killed < 2.0


def test_cancelling_a_running_forked_run_kills_it_and_ends_cancelled(
    warm_stack: Any, ledger: Any
) -> None:
    stack = warm_stack
    stack.start_worker("--pool", stack.pool)
    run_id = stack.run(stack.deploy("nap"), seconds=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    answer = stack.http.post(f"/flow_runs/{run_id}/cancel")
    assert answer.status_code == 200, answer.text
    run = stack.wait_state(run_id, timeout=20)
    assert run["state_type"] == "CANCELLED", run
    wait_for(lambda: not running(entry["pid"]), 5, "the flow process gone")


def test_the_ready_interpreter_killed_crashes_its_runs_and_the_next_run_starts(
    warm_stack: Any, ledger: Any
) -> None:
    stack = warm_stack
    worker = stack.start_worker("--pool", stack.pool)
    deployment = stack.deploy("nap")
    run_id = stack.run(deployment, seconds=600)
    entry = wait_for(lambda: started(ledger, stack, run_id, 1), 30, "the flow's start")
    os.kill(entry["ppid"], signal.SIGKILL)
    run = stack.wait_state(run_id, {"CRASHED"}, timeout=20)
    assert "ready interpreter" in run["state_message"], run["state_message"]
    wait_for(lambda: not running(entry["pid"]), 5, "its flow process gone with it")
    later = stack.run(deployment, seconds=0)
    assert stack.wait_state(later)["state_type"] == "COMPLETED"
    assert worker.poll() is None


def test_a_bad_preload_fails_the_run_saying_why_and_the_worker_lives_on(warm_stack: Any) -> None:
    stack = warm_stack
    worker = stack.start_worker("--pool", stack.pool, "--preload", "no_such_module_here")
    run = stack.wait_state(stack.run(stack.deploy("version")))
    assert run["state_type"] == "FAILED", run
    assert "cannot preload module 'no_such_module_here'" in run["state_message"], run
    assert worker.poll() is None
    output = stack.worker_output(len(stack.workers) - 1)
    assert "the ready interpreter cannot start runs: cannot preload module" in output, output
    assert "Traceback" not in output, output


HEADRACE_CLI = [sys.executable, "-m", "headrace.cli.main"]
