"""Pause, suspend and resume as users do it: a real server, the flow in its own process (a
script, or a deployment run by a real worker), resumed from the CLI or the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from headrace.client import HeadraceClient
from headrace.errors import ApiError
from headrace.flow_runs import resume_flow_run, suspend_flow_run
from headrace.input import AutomaticRunInput, keyset_from_paused_state
from headrace.schemas.common import State
from headrace.settings import client_settings
from tests.e2e.conftest import HEADRACE, DeploymentStack

pytestmark = pytest.mark.slow

SCRIPT = """
import sys

from pydantic import Field

from headrace import flow
from headrace.flow_runs import pause_flow_run
from headrace.input import RunInput


class Approval(RunInput):
    approver: str = Field(description="Who approves")
    count: int = 1


@flow(name="{name}")
def needs_approval() -> str:
    answer = pause_flow_run(wait_for_input=Approval, timeout={timeout})
    assert isinstance(answer, Approval)
    line = f"approved by {{answer.approver}} x{{answer.count + 1}}"
    print(line, flush=True)
    return line


needs_approval()
"""

ASYNC_SCRIPT = """
import asyncio

from headrace import flow
from headrace.flow_runs import pause_flow_run
from headrace.input import RunInput


class Go(RunInput):
    speed: float = 1.0


@flow(name="{name}")
async def async_pause() -> float:
    first = await pause_flow_run(wait_for_input=Go, timeout={timeout})
    await pause_flow_run(timeout={timeout})  # a second pause: the next key
    print(f"speed {{first.speed * 2}}", flush=True)
    return first.speed


asyncio.run(async_pause())
"""

BARE_SCRIPT = """
from typing import Literal

from headrace import flow
from headrace.flow_runs import pause_flow_run


@flow(name="{name}")
def bare() -> int:
    count = pause_flow_run(wait_for_input=int, timeout={timeout})
    color = pause_flow_run(wait_for_input=Literal["red", "blue"], timeout={timeout})
    print(f"count={{count!r}} color={{color!r}}", flush=True)
    return count * 6


bare()
"""

FLOWS = """

import time
from pathlib import Path

from headrace import task
from headrace.flow_runs import pause_flow_run, suspend_flow_run
from headrace.input import RunInput


def _note(name: str, line: str) -> None:
    with open(Path(__file__).resolve().parent.parent / name, "a") as file:
        file.write(line + "\\n")


class Size(RunInput):
    rows: int


@task(persist_result=True)
def extract() -> int:
    _note("extracted.txt", "once")
    return 2


@flow
def suspendable() -> int:
    factor = extract()  # its result is stored: Cached in the attempt after the resume
    answer = suspend_flow_run(wait_for_input=Size, timeout=600)
    print(f"resumed with {answer.rows} rows")
    return answer.rows * factor


@flow
def endless() -> str:
    marker = Path(__file__).resolve().parent.parent / "endless-started.txt"
    if marker.exists():
        return "second attempt"
    marker.write_text("first")
    while True:  # until another run suspends it
        time.sleep(0.1)


@flow
def holding() -> str:
    pause_flow_run(timeout=600)
    return "went on"


class Approval(RunInput):
    approver: str


@flow
def approvable() -> str:
    _note("approvable.txt", "started")
    answer = pause_flow_run(wait_for_input=Approval, timeout=600)
    return f"approved by {answer.approver}"
"""


@pytest.fixture
def start_script(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`start_script(flow_name, pause_timeout)`: the script above in its own process, killed
    at the end of the test if it still waits."""
    started: list[subprocess.Popen[str]] = []

    def start(name: str, timeout: float, script: str = SCRIPT) -> subprocess.Popen[str]:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(script.format(name=name, timeout=timeout)))
        started.append(
            subprocess.Popen(
                [sys.executable, str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return found


def _run_of(http: httpx.Client, flow_name: str) -> dict[str, Any] | None:
    items = http.get("/flow_runs", params={"flow_name": flow_name}).json()["items"]
    return items[0] if items else None


def _state(http: httpx.Client, flow_name: str, state_type: str) -> dict[str, Any] | None:
    run = _run_of(http, flow_name)
    return run if run is not None and run["state_type"] == state_type else None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HEADRACE, *args], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )


def test_paused_script_resumed_from_the_cli_gets_the_typed_input(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("approval-flow", 600)
    run = _until(lambda: _state(http, "approval-flow", "PAUSED"), "the run to pause")
    assert run["state_name"] == "Paused"
    detail = http.get(f"/flow_runs/{run['id']}").json()
    paused = detail["states"][-1]["data"]
    assert paused["run_input_schema"]["properties"]["approver"]["description"] == "Who approves"

    bad = _cli("flow-run", "resume", run["id"], "--input", "count=many")
    assert bad.returncode == 2
    assert "body.run_input.approver" in bad.stderr  # missing
    assert "body.run_input.count" in bad.stderr  # not an integer
    assert len(bad.stderr.strip().splitlines()) == 1
    assert _state(http, "approval-flow", "PAUSED") is not None

    good = _cli("flow-run", "resume", run["id"], "--input", "approver=ann", "--input", "count=2")
    assert good.returncode == 0, good.stderr
    assert "Running" in good.stdout
    out, err = script.communicate(timeout=60)
    assert script.returncode == 0, err
    assert "approved by ann x3" in out
    done = http.get(f"/flow_runs/{run['id']}").json()
    assert done["state_type"] == "COMPLETED"
    names = [s["name"] for s in done["states"]]
    assert names[-4:] == ["Running", "Paused", "Running", "Completed"]

    again = _cli("flow-run", "resume", run["id"])
    assert again.returncode == 2
    assert "not paused" in again.stderr


def test_a_pause_for_a_bare_type_returns_the_bare_value_and_keeps_the_input(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("bare-flow", 600, BARE_SCRIPT)
    run = _until(lambda: _state(http, "bare-flow", "PAUSED"), "the first pause")
    bad = _cli("flow-run", "resume", run["id"], "--input", "value=many")
    assert bad.returncode == 2
    assert "body.run_input.value" in bad.stderr
    good = _cli("flow-run", "resume", run["id"], "--input", "value=7")
    assert good.returncode == 0, good.stderr

    def second_pause() -> bool:
        states = http.get(f"/flow_runs/{run['id']}").json()["states"]
        return [s["type"] for s in states].count("PAUSED") == 2 and states[-1]["type"] == "PAUSED"

    _until(second_pause, "the second pause")
    with pytest.raises(ApiError, match=r"body\.run_input\.value"):
        resume_flow_run(run["id"], {"value": "green"})
    resume_flow_run(run["id"], {"value": "red"})
    out, err = script.communicate(timeout=60)
    assert script.returncode == 0, err
    assert "count=7 color='red'" in out
    done = http.get(f"/flow_runs/{run['id']}").json()
    assert done["states"][-1]["data"]["result"] == 42

    # As in Prefect, each pause's schema and the input given are among the run's inputs.
    first = State.model_validate(next(s for s in done["states"] if s["type"] == "PAUSED"))
    keyset = keyset_from_paused_state(first)
    assert keyset["response"] == "paused-1-response"
    assert AutomaticRunInput.subclass_from_type(int).load(keyset, flow_run_id=run["id"]) == 7
    schema = http.get(f"/flow_runs/{run['id']}/input/paused-2-schema").json()["value"]
    assert schema["properties"]["value"]["enum"] == ["red", "blue"]
    answer = http.get(f"/flow_runs/{run['id']}/input/paused-2-response").json()
    assert answer["value"] == {"value": "red"}
    missing = http.get(f"/flow_runs/{run['id']}/input/paused-3-response")
    assert missing.status_code == 404 and "paused-3-response" in missing.text


def test_an_async_flow_awaits_its_pauses(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("async-pause", 600, ASYNC_SCRIPT)
    run = _until(lambda: _state(http, "async-pause", "PAUSED"), "the first pause")
    resume_flow_run(run["id"], {"speed": 2.5})
    _until(
        lambda: (
            len(http.get(f"/flow_runs/{run['id']}").json()["states"]) >= 4
            and _state(http, "async-pause", "PAUSED")
        ),
        "the second pause",
    )
    resume_flow_run(run["id"])
    out, err = script.communicate(timeout=60)
    assert script.returncode == 0, err
    assert "speed 5.0" in out
    states = http.get(f"/flow_runs/{run['id']}").json()["states"]
    keys = [s["data"]["pause_key"] for s in states if s["type"] == "PAUSED"]
    assert keys == ["1", "2"]
    assert states[-1]["name"] == "Completed"


def test_a_paused_script_whose_run_is_suspended_stops_waiting(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("suspended-script", 600)
    run = _until(lambda: _state(http, "suspended-script", "PAUSED"), "the run to pause")
    suspended = {"state": {"type": "PAUSED", "name": "Suspended", "message": "by ops"}}
    assert http.post(f"/flow_runs/{run['id']}/set_state", json=suspended).status_code == 201
    # No longer waiting for a resume: the flow call raises Pause (as suspend_flow_run does).
    _, err = script.communicate(timeout=30)
    assert "the flow run was suspended while paused" in err
    logs = http.get(f"/flow_runs/{run['id']}/logs").json()["items"]
    assert any("Suspended; a worker runs the flow again" in line["message"] for line in logs)
    assert http.get(f"/flow_runs/{run['id']}").json()["state_name"] == "Suspended"


def test_cancelling_a_paused_script_run_ends_its_wait(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("cancelled-flow", 600)
    run = _until(lambda: _state(http, "cancelled-flow", "PAUSED"), "the run to pause")
    cancelled = _cli("flow-run", "cancel", run["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    _, err = script.communicate(timeout=60)
    assert "the run became Cancelled while paused" in err
    assert http.get(f"/flow_runs/{run['id']}").json()["state_type"] == "CANCELLED"


def test_a_pause_nobody_resumes_fails_the_run_with_a_clear_message(
    api_url: str, http: httpx.Client, start_script: Callable[..., Any]
) -> None:
    script = start_script("forgotten-flow", 1.5)
    _, err = script.communicate(timeout=60)
    assert "FlowPauseTimeout" in err or "nobody resumed it" in err
    run = _run_of(http, "forgotten-flow")
    assert run is not None
    assert run["state_type"] == "FAILED"
    assert "paused for 1.5 s and nobody resumed it" in run["state_message"]
    assert script.returncode != 0
    # Too late to resume: the pause timed out.
    late = _cli("flow-run", "resume", run["id"], "--input", "approver=ann")
    assert late.returncode == 2


def test_suspended_deployment_run_exits_and_a_worker_finishes_it_after_resume(
    deployment_stack: Callable[..., DeploymentStack],
) -> None:
    stack = deployment_stack(
        lease_seconds="3", heartbeat_seconds="0.5", reaper_interval_seconds="0.5"
    )
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + textwrap.dedent(FLOWS))
    suspended = stack.deploy("suspendable")
    held = stack.deploy("holding")
    stack.start_worker()
    run_id = stack.cli("deployment", "run", suspended).stdout.strip()
    held_id = stack.cli("deployment", "run", held).stdout.strip()

    run = _until(lambda: (r := stack.read(run_id))["state_name"] == "Suspended" and r, "Suspended")
    assert run["state_type"] == "PAUSED"
    assert run["worker_id"] is None  # the process exited; no worker holds the run
    # A Paused run's process waits: its worker's heartbeat keeps it alive past its lease.
    _until(lambda: stack.read(held_id)["state_name"] == "Paused", "Paused")
    time.sleep(5)
    assert stack.read(held_id)["state_name"] == "Paused"
    assert stack.read(run_id)["state_name"] == "Suspended"  # not reaped either

    with HeadraceClient(stack.url) as client:
        with pytest.raises(ApiError, match=r"body\.run_input\.rows"):
            resume_flow_run(run_id, {"rows": "x"}, client=client)
        assert stack.read(run_id)["state_name"] == "Suspended"
        resumed = resume_flow_run(run_id, {"rows": 21}, client=client)
    assert resumed.state_name == "Resuming"
    stack.cli("flow-run", "resume", held_id)
    for rid in (run_id, held_id):
        _until(lambda rid=rid: stack.read(rid)["state_type"] == "COMPLETED", "Completed", 90)
    detail = stack.http.get(f"/flow_runs/{run_id}").json()
    assert detail["run_count"] == 2  # the next attempt finished it
    assert detail["states"][-1]["data"]["result"] == 42
    # The task that ran before the suspension was not run again.
    assert (stack.folder / "extracted.txt").read_text().splitlines() == ["once"]


def _automation(stack: DeploymentStack, name: str, expect: str, action: dict[str, Any]) -> None:
    definition = {"name": name, "trigger": {"expect": [expect]}, "actions": [action]}
    created = stack.http.post("/automations", json=definition)
    assert created.status_code == 201, created.text


def _outcome(stack: DeploymentStack, name: str) -> dict[str, Any]:
    """The outcome of the one action of the automation's one firing, once it has one."""

    def done() -> dict[str, Any] | None:
        found = stack.http.get(f"/automations/{name}/firings").json()
        action = found[0]["actions"][0] if found else None
        return action if action and action["status"] in ("executed", "failed") else None

    outcome: dict[str, Any] = _until(done, f"the action of {name}")
    return outcome


def test_automations_suspend_and_resume_a_paused_deployment_run(
    deployment_stack: Callable[..., DeploymentStack],
) -> None:
    stack = deployment_stack()
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + textwrap.dedent(FLOWS))
    stack.start_worker()
    run_id = stack.cli("deployment", "run", stack.deploy("approvable")).stdout.strip()
    _until(lambda: stack.read(run_id)["state_name"] == "Paused", "Paused")
    # Each acts on the run the event is about ("inferred", as in Prefect).
    _automation(stack, "resume-bare", "ops.resume-bare", {"type": "resume-flow-run"})
    _automation(stack, "suspend", "ops.suspend", {"type": "suspend-flow-run"})
    approve = {"type": "resume-flow-run", "run_input": {"approver": "{{ event.payload.who }}"}}
    _automation(stack, "approve", "ops.approve", approve)

    def emit(name: str, **payload: str) -> None:
        event = {"event": name, "resource": {"headrace.resource.id": f"headrace.flow-run.{run_id}"}}
        sent = stack.http.post("/event_feed", json={"events": [{**event, "payload": payload}]})
        assert sent.status_code == 201, sent.text

    # Without the input the pause waits for: the action fails, saying what is missing.
    emit("ops.resume-bare")
    bare = _outcome(stack, "resume-bare")
    assert bare["status"] == "failed"
    assert "run_input.approver: missing" in bare["reason"], bare
    assert stack.read(run_id)["state_name"] == "Paused"

    emit("ops.suspend")
    suspend = _outcome(stack, "suspend")
    assert suspend["status"] == "executed", suspend
    run = _until(lambda: (r := stack.read(run_id))["state_name"] == "Suspended" and r, "Suspended")
    assert run["state_type"] == "PAUSED"
    _until(lambda: stack.read(run_id)["worker_id"] is None, "the worker to let the run go")

    emit("ops.approve", who="ann")
    assert _outcome(stack, "approve")["status"] == "executed"
    _until(lambda: stack.read(run_id)["state_type"] == "COMPLETED", "Completed", 90)
    detail = stack.http.get(f"/flow_runs/{run_id}").json()
    assert detail["run_count"] == 2  # a worker ran it again after the resume
    assert detail["states"][-1]["data"]["result"] == "approved by ann"
    assert (stack.folder / "approvable.txt").read_text().splitlines() == ["started"] * 2


def test_another_run_suspended_by_request_stops_and_is_run_again_after_resume(
    deployment_stack: Callable[..., DeploymentStack], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = deployment_stack(
        lease_seconds="3", heartbeat_seconds="0.5", reaper_interval_seconds="0.5"
    )
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + textwrap.dedent(FLOWS))
    endless = stack.deploy("endless")
    stack.start_worker()
    run_id = stack.cli("deployment", "run", endless).stdout.strip()
    _until(lambda: stack.read(run_id)["state_type"] == "RUNNING", "Running")

    monkeypatch.setenv("HEADRACE_API_URL", stack.url)
    client_settings.cache_clear()
    with HeadraceClient(stack.url) as client:
        # From outside any flow, as another program would.
        suspend_flow_run(wait_for_input=int, flow_run_id=run_id, timeout=600, key="ops")
        run = stack.read(run_id)
        assert (run["state_type"], run["state_name"]) == ("PAUSED", "Suspended")
        assert "suspended by request" in run["state_message"]
        with pytest.raises(RuntimeError, match="the run is Suspended, not Running"):
            suspend_flow_run(flow_run_id=run_id)

        def stopped() -> bool:
            logs = stack.http.get(f"/flow_runs/{run_id}/logs", params={"limit": 1000}).json()
            said = " ".join(line["message"] for line in logs["items"])
            # Whichever noticed first: the worker's heartbeat, or the flow's own lease check.
            return (
                "suspended on request: stopping the flow process" in said
                or "the run was suspended by request" in said
            )

        _until(stopped, "the worker to stop the flow process")
        time.sleep(4)  # past the lease: not reaped, not Crashed
        assert stack.read(run_id)["state_name"] == "Suspended"
        with pytest.raises(ApiError, match=r"body\.run_input\.value"):
            resume_flow_run(run_id, {"value": "x"}, client=client)
        resume_flow_run(run_id, {"value": 3}, client=client)
    _until(lambda: stack.read(run_id)["state_type"] == "COMPLETED", "Completed", 90)
    detail = stack.http.get(f"/flow_runs/{run_id}").json()
    assert detail["states"][-1]["data"]["result"] == "second attempt"
    assert [s["name"] for s in detail["states"] if s["type"] == "CRASHED"] == []
    answer = stack.http.get(f"/flow_runs/{run_id}/input/suspended-ops-response").json()
    assert answer["value"] == {"value": 3}


def test_suspending_another_run_that_is_not_a_deployments_is_refused(
    api_url: str, http: httpx.Client
) -> None:
    run = http.post("/flow_runs", json={"flow_name": "by-hand", "state": {"type": "RUNNING"}})
    with pytest.raises(RuntimeError, match="not a deployment's"):
        suspend_flow_run(flow_run_id=run.json()["id"])
    assert http.get(f"/flow_runs/{run.json()['id']}").json()["state_type"] == "RUNNING"
