"""A deployment's concurrency key, end to end: `headrace deploy --concurrency-limit 1
--concurrency-key '{{ parameters.customer }}'`, a real server and a real worker. The limit holds
per customer while different customers run side by side; bad templates fail in one line."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.e2e.conftest import DeploymentStack

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

PER_CUSTOMER = """

@flow
def billing(customer: str, seconds: float = 1.5) -> str:
    time.sleep(seconds)
    return customer
"""


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    """The most runs that were running at the same moment (from their start and end times)."""
    events: list[tuple[datetime, int]] = []
    for run in runs:
        events.append((datetime.fromisoformat(run["start_time"]), 1))
        events.append((datetime.fromisoformat(run["end_time"]), -1))
    most = now = 0
    for _, step in sorted(events):  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def _billing_stack(deployment_stack: Callable[..., DeploymentStack]) -> DeploymentStack:
    stack = deployment_stack()
    with (stack.folder / "flows" / "jobs.py").open("a") as code:
        code.write(PER_CUSTOMER)
    return stack


def test_limit_one_per_customer_runs_customers_in_parallel(
    deployment_stack: Callable[..., DeploymentStack],
) -> None:
    stack = _billing_stack(deployment_stack)
    name = stack.deploy(
        "billing",
        "--concurrency-limit",
        "1",
        "--concurrency-key",
        "{{ parameters.customer }}",
    )
    shown = stack.cli("deployment", "inspect", name).stdout
    assert "concurrency: 1 per {{ parameters.customer }}" in shown
    run_ids = [
        stack.cli("deployment", "run", name, "--param", f"customer={customer}").stdout.strip()
        for customer in ["acme", "acme", "acme", "globex", "globex", "globex"]
    ]
    stack.start_worker()
    deadline = time.monotonic() + 90
    runs = [stack.read(run_id) for run_id in run_ids]
    while not all(run["state_type"] in TERMINAL for run in runs):
        assert time.monotonic() < deadline, [(r["name"], r["state_type"]) for r in runs]
        time.sleep(0.5)
        runs = [stack.read(run_id) for run_id in run_ids]
    assert [run["state_type"] for run in runs] == ["COMPLETED"] * 6
    assert [run["concurrency_key"] for run in runs] == ["acme"] * 3 + ["globex"] * 3
    assert _most_at_once(runs[:3]) == 1
    assert _most_at_once(runs[3:]) == 1
    assert _most_at_once(runs) == 2


def test_bad_templates_are_refused_in_one_line(
    deployment_stack: Callable[..., DeploymentStack],
) -> None:
    stack = _billing_stack(deployment_stack)
    deploy = ["deploy", "flows/jobs.py:billing", "--name", "x", "--pool", stack.pool]
    broken = stack.cli(
        *deploy,
        "--concurrency-limit",
        "1",
        "--concurrency-key",
        "{{ parameters.customer ",
        check=False,
    )
    assert broken.returncode == 2, broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert "concurrency_key" in broken.stderr and "Traceback" not in broken.stderr
    unknown = stack.cli(*deploy, "--concurrency-key", "{{ parameters.tenant }}", check=False)
    assert unknown.returncode == 2
    assert "concurrency_key" in unknown.stderr and "parameters.tenant" in unknown.stderr
