"""End to end over separate hosts (network namespaces, tests/hosts/netns.py): the server on the
API host's non-loopback address with auth on; two worker hosts with their own folders that get
the code as an uploaded bundle; a CI host that deploys, triggers and waits."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"
# Each run is a Python process on a worker host (~0.4 s of CPU): 200 take ~50 s on two quiet
# cores, ~110 s on the shared machine at load 12. HEADRACE_TEST_HOSTS_RUNS changes the count.
RUNS = int(os.environ.get("HEADRACE_TEST_HOSTS_RUNS", "200"))

RECORD_FLOW = """
import json
import os
import time

from headrace import flow, task


@task
def double(n: int) -> int:
    return 2 * n


@flow
def record(ledger: str, n: int = 0, seconds: float = 0.0) -> int:
    # The side effect the test counts: one line per start and end, saying which host ran it.
    run, host = os.environ["HEADRACE_FLOW_RUN_ID"], os.environ["TEST_HOST_ROLE"]
    entry = {"n": n, "run": run, "host": host}
    with open(ledger, "a") as file:
        file.write(json.dumps({**entry, "event": "start", "t": time.time()}) + "\\n")
    time.sleep(seconds)
    result = double(n)
    with open(ledger, "a") as file:
        file.write(json.dumps({**entry, "event": "end", "t": time.time()}) + "\\n")
    return result
"""


def readme_script() -> str:
    """`my_script.py` exactly as the README says to save it."""
    text = README.read_text()
    after = text.index("Save this as\n`my_script.py`")
    match = re.search(r"```python\n(.*?)```", text[after:], re.S)
    assert match is not None
    return match.group(1)


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def deploy_from_ci(stack: Any, files: dict[str, str], *deploy_args: str) -> None:
    """Deploy from a project folder on the CI host with --upload, then take the folder away:
    the worker hosts can only run what the bundle holds."""
    project = stack.hosts["ci"].folder / "project"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    deployed = stack.cli("ci", "deploy", *deploy_args, "--upload", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    shutil.rmtree(project)


def test_readme_deployment_journey_across_hosts(host_stack: Any) -> None:
    stack = host_stack
    stack.start_api()
    created = stack.cli("ci", "work-pool", "create", "--type", "process", "nightly")
    assert created.returncode == 0, created.stderr
    assert "nightly" in stack.cli("ci", "work-pool", "ls").stdout
    stack.start_worker("w1", "nightly")
    stack.start_worker("w2", "nightly")
    deploy_from_ci(
        stack,
        {"my_script.py": readme_script()},
        "my_script.py:etl",
        "--name",
        "daily",
        "--pool",
        "nightly",
        "--cron",
        "0 6 * * *",
        "--timezone",
        "Europe/Paris",
    )
    watched = stack.cli(
        "ci", "deployment", "run", "etl/daily", "--param", "day=2026-11-24", "--watch"
    )
    assert watched.returncode == 0, (watched.stdout, watched.stderr)
    assert "60 rows for 2026-11-24" in watched.stdout
    assert "finished Completed" in watched.stdout
    # Only the worker hosts could run it, from the bundle (the project folder is gone).
    with stack.http() as http:
        workers = http.get("/work_pools/nightly/workers").json()
    assert sorted(w["name"] for w in workers) == ["w1", "w2"]


@pytest.mark.timeout(400)
def test_two_worker_hosts_drain_200_runs_each_exactly_once(host_stack: Any) -> None:
    stack = host_stack
    stack.start_api()
    ledger = stack.hosts["api"].folder / "ledger.jsonl"
    assert stack.cli("ci", "work-pool", "create", "--type", "process", "drain").returncode == 0
    deploy_from_ci(stack, {"jobs.py": RECORD_FLOW}, "jobs.py:record", "-n", "d", "-p", "drain")
    stack.start_worker("w1", "drain", "--limit", "8")
    stack.start_worker("w2", "drain", "--limit", "8")

    started = time.monotonic()
    out = stack.python(
        "ci", HERE / "ci_trigger.py", "record/d", str(RUNS), json.dumps({"ledger": str(ledger)})
    )
    elapsed = time.monotonic() - started
    assert json.loads(out) == {"COMPLETED": RUNS}
    entries = read_ledger(ledger)
    starts = sorted(e["n"] for e in entries if e["event"] == "start")
    ends = sorted(e["n"] for e in entries if e["event"] == "end")
    assert starts == ends == list(range(RUNS))  # each run once: no loss, no duplicate
    by_host = {
        h: sum(1 for e in entries if e["event"] == "end" and e["host"] == h) for h in ["w1", "w2"]
    }
    assert by_host["w1"] > 0 and by_host["w2"] > 0, by_host
    print(f"{RUNS} runs over two worker hosts in {elapsed:.1f} s: {by_host}")


def test_a_worker_host_started_before_the_api_host_waits_and_connects(host_stack: Any) -> None:
    stack = host_stack
    stack.start_worker("w1", "early", "--type", "process")
    log = stack.hosts["w1"].folder / "worker.log"
    deadline = time.monotonic() + 30
    while "waiting for the headrace API" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert f"waiting for the headrace API at {stack.api_url}" in log.read_text()
    time.sleep(2)  # a few failed attempts at a host that does not answer yet
    stack.start_api()
    ledger = stack.hosts["api"].folder / "ledger.jsonl"
    deploy_from_ci(stack, {"jobs.py": RECORD_FLOW}, "jobs.py:record", "-n", "d", "-p", "early")
    watched = stack.cli(
        "ci", "deployment", "run", "record/d", "--param", f"ledger={ledger}", "--watch"
    )
    assert watched.returncode == 0, (watched.stdout, watched.stderr)
    assert f"connected to the headrace API at {stack.api_url}" in log.read_text()
    assert [e["host"] for e in read_ledger(ledger) if e["event"] == "end"] == ["w1"]
