"""End to end over separate hosts (network namespaces, tests/hosts/netns.py): the server on the
API host's non-loopback address with auth on; two worker hosts with their own folders that get
the code as an uploaded bundle; a CI host that deploys, triggers and waits."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"
# Each run is a Python process on a worker host (~0.4 s of CPU): 200 take ~50 s on two quiet
# cores, 77-129 s on the shared machine at load 8-27. HEADRACE_TEST_HOSTS_RUNS changes the count.
RUNS = int(os.environ.get("HEADRACE_TEST_HOSTS_RUNS", "200"))


def readme_script() -> str:
    """`my_script.py` exactly as the README says to save it."""
    text = README.read_text()
    after = text.index("Save this as\n`my_script.py`")
    match = re.search(r"```python\n(.*?)```", text[after:], re.S)
    assert match is not None
    return match.group(1)


def test_readme_deployment_journey_across_hosts(host_stack: Any) -> None:
    stack = host_stack
    stack.start_api()
    created = stack.cli("ci", "work-pool", "create", "--type", "process", "nightly")
    assert created.returncode == 0, created.stderr
    assert "nightly" in stack.cli("ci", "work-pool", "ls").stdout
    stack.start_worker("w1", "nightly")
    stack.start_worker("w2", "nightly")
    stack.deploy_from_ci(
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
    stack.deploy_record("drain")
    stack.start_worker("w1", "drain", "--limit", "8")
    stack.start_worker("w2", "drain", "--limit", "8")

    started = time.monotonic()
    out = stack.python(
        "ci",
        HERE / "ci_trigger.py",
        "record/d",
        str(RUNS),
        json.dumps({"ledger": str(stack.ledger_path)}),
    )
    elapsed = time.monotonic() - started
    assert json.loads(out) == {"COMPLETED": RUNS}
    entries = stack.ledger()
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
    wait_for_line(log, f"waiting for the headrace API at {stack.api_url}")
    time.sleep(2)  # a few failed attempts at a host that does not answer yet
    stack.start_api()
    wait_for_line(log, f"connected to the headrace API at {stack.api_url}")
    # The worker makes its pool once it reaches the API: deploying to it before would be refused.
    wait_for_line(log, "created work pool 'early' of type process")
    stack.deploy_record("early", create_pool=False)
    watched = stack.cli(
        "ci", "deployment", "run", "record/d", "--param", f"ledger={stack.ledger_path}", "--watch"
    )
    assert watched.returncode == 0, (watched.stdout, watched.stderr)
    assert [e["host"] for e in stack.ledger() if e["event"] == "end"] == ["w1"]


def wait_for_line(log: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.2)
