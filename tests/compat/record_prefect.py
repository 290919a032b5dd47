"""Record what Prefect 3 does with each corpus script, into tests/compat/expected/<script>.json.

Run with the Python of a venv that has Prefect 3 installed (NOT the project's venv, and not in
CI): it starts one `prefect server start` on a free port with a throwaway PREFECT_HOME, runs each
script as a real subprocess against it, then reads the flow runs the script made (and their task
runs) through Prefect's client.

    /work/prefect-venv/bin/python tests/compat/record_prefect.py            # every script
    /work/prefect-venv/bin/python tests/compat/record_prefect.py cache_inputs retries_flow_level

The normalisation (uuids, temporary folders, generated task-run suffixes) is shared with the
pytest side through tests/compat/normalise.py, which imports nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from normalise import (  # noqa: E402
    EXPECTED,
    SCRIPTS,
    declared_run_name,
    normalise_stdout,
    run_python,
    run_record,
    sorted_flow_runs,
)

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    prefect = str(Path(sys.executable).with_name("prefect"))
    process = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("prefect server did not become healthy in 120 s")


def runs_after(client: Any, seen: set[str]) -> list[dict[str, Any]]:
    """Every flow run not in `seen`, with its task runs (less the one that stands for a subflow
    in its parent: the subflow's own run carries that state)."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

    everything = []
    offset = 0
    while True:
        page = client.read_flow_runs(limit=200, offset=offset)
        everything.extend(page)
        if len(page) < 200:
            break
        offset += 200
    fresh = [run for run in everything if str(run.id) not in seen]
    seen.update(str(run.id) for run in fresh)
    placeholders = {str(run.parent_task_run_id) for run in fresh if run.parent_task_run_id}
    records = []
    for run in fresh:
        flow = client.read_flow(run.flow_id)
        tasks = client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run.id]))
        )
        records.append(
            run_record(
                flow.name,
                run.name,
                run.parent_task_run_id is not None,
                (run.state.type.value, run.state.name),
                [
                    (t.name, t.state.type.value, t.state.name)
                    for t in tasks
                    if str(t.id) not in placeholders
                ],
            )
        )
    return records


def last_error_line(stderr: str) -> list[str]:
    """The last line of stderr that is not one of Prefect's log lines (the exception, mostly)."""
    lines = [line for line in stderr.splitlines() if line and not LOG_LINE.match(line)]
    return lines[-1:]


def record(script: Path, url: str, client: Any, seen: set[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="corpus-"))
    env = dict(
        os.environ,
        PREFECT_API_URL=url,
        PREFECT_HOME=str(work / "home"),
        PREFECT_LOCAL_STORAGE_PATH=str(work / "storage"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        TMPDIR=str(work),
    )
    try:
        done = run_python(sys.executable, script, work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    time.sleep(1.5)  # the client's last state reports and the server's writes settle
    flow_runs = runs_after(client, seen)
    source = script.read_text()
    for run in flow_runs:
        if not declared_run_name(source):
            del run["name"]
    return {
        "script": script.name,
        "prefect_version": __import__("prefect").__version__,
        "exit_code": done.exit_code,
        "stdout": normalise_stdout(done.stdout),
        "flow_runs": sorted_flow_runs(flow_runs),
        "stderr_tail": last_error_line(done.stderr) if done.exit_code else [],
    }


def main(names: list[str]) -> None:
    scripts = sorted(SCRIPTS.glob("*.py"))
    if names:
        scripts = [s for s in scripts if s.stem in names]
    home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
    process, url = start_server(home)
    os.environ["PREFECT_API_URL"] = url
    from prefect.client.orchestration import get_client

    EXPECTED.mkdir(exist_ok=True)
    seen: set[str] = set()
    try:
        with get_client(sync_client=True) as client:
            runs_after(client, seen)
            for script in scripts:
                result = record(script, url, client, seen)
                target = EXPECTED / f"{script.stem}.json"
                target.write_text(json.dumps(result, indent=2) + "\n")
                runs = len(result["flow_runs"])
                print(f"{script.stem}: exit {result['exit_code']}, {runs} flow runs")
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
