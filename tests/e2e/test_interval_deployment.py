"""A deployment with `--interval 2` produces runs that a worker completes on time: the scheduler
loop of a real server makes them, a real worker claims each when it is due."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.slow

RUNS = 3
WITHIN_SECONDS = 15.0
# From its start time to its flow process running: the worker's claim plus a Python start.
ON_TIME_SECONDS = 3.0


def test_interval_deployment_runs_complete_on_time(deployment_stack: Callable[..., Any]) -> None:
    stack = deployment_stack(scheduler_interval_seconds="0.5")
    stack.start_worker()
    name = stack.deploy("greet", "--interval", "2")
    deployed = time.monotonic()
    deployment = stack.http.get(f"/deployments/name/{name}").json()
    completed: list[dict[str, Any]] = []
    while len(completed) < RUNS:
        assert time.monotonic() - deployed < WITHIN_SECONDS, completed
        time.sleep(0.25)
        completed = stack.http.get(
            "/flow_runs",
            params={"deployment_id": deployment["id"], "state_type": "COMPLETED", "limit": 100},
        ).json()["items"]
    starts = sorted(datetime.fromisoformat(run["expected_start_time"]) for run in completed)
    # Each on its own slot of the interval, two seconds apart.
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(starts)} == {2.0}, starts
    for run in completed:
        assert run["auto_scheduled"] is True, run
        late = datetime.fromisoformat(run["start_time"]) - datetime.fromisoformat(
            run["expected_start_time"]
        )
        assert 0 <= late.total_seconds() < ON_TIME_SECONDS, run
        print(f"run due {run['expected_start_time']} started {late.total_seconds():.2f} s late")
