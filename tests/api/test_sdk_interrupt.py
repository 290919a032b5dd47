"""Ctrl-C in a flow: the run ends Crashed, on_crashed hooks run, the logs so far are kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from headrace.client import HeadraceClient

SCRIPT = """
import time
from headrace import flow

def crashed(flow, run, state):
    print("on_crashed ran", flush=True)

@flow(log_prints=True, on_crashed=[crashed])
def interrupted() -> None:
    for i in range(3):
        print(f"line {i}")
    print("ready", flush=True)
    time.sleep(600)

interrupted()
"""


def interrupt_after_ready(api_url: str, script: Path, timeout: float) -> tuple[int, str]:
    """Start the script, send SIGINT as soon as it printed "ready"; its exit code and output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_API_URL"] = api_url
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "ready":
            break
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, output


def test_ctrl_c_crashes_the_run_runs_the_hook_and_flushes_the_logs(
    api_url: str, client: HeadraceClient, tmp_path: Path
) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT)
    returncode, output = interrupt_after_ready(api_url, script, timeout=30)
    assert returncode != 0
    assert "on_crashed ran" in output

    run = client.get_json("/flow_runs", params={"flow_name": "interrupted"})["items"][0]
    assert (run["state_type"], run["state_message"]) == (
        "CRASHED",
        "interrupted by KeyboardInterrupt",
    )
    logs = client.get_json(f"/flow_runs/{run['id']}/logs")["items"]
    assert {"line 0", "line 1", "line 2", "ready"} <= {line["message"] for line in logs}


def test_ctrl_c_right_after_a_print_always_stops_the_run(
    api_url: str, client: HeadraceClient, tmp_path: Path
) -> None:
    # Issue 22: about one try in ten, later one in 200, hung before headrace.interrupts; each
    # try must stop within seconds.
    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT)
    tries = 25
    for _ in range(tries):
        returncode, output = interrupt_after_ready(api_url, script, timeout=5)
        assert returncode != 0
        assert "on_crashed ran" in output
    runs = client.get_json("/flow_runs", params={"flow_name": "interrupted", "limit": tries})
    assert [run["state_type"] for run in runs["items"]] == ["CRASHED"] * tries
