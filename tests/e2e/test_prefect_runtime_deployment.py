"""`headrace.runtime` in a run made by a deployment and executed by a real worker, reached by
`run_deployment` from code, as a Prefect 3 script does it; the run takes its flow's
`flow_run_name` when it starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from headrace.client import HeadraceClient
from headrace.deployments import run_deployment

pytestmark = pytest.mark.slow

PROBE = """

import json as _json
from pathlib import Path as _Path

from headrace import runtime


@flow(flow_run_name="probe-{day}-{rows}")
def probe(day: str, rows: int = 3) -> int:
    seen = {
        "flow_run_id": runtime.flow_run.id,
        "flow_run_name": runtime.flow_run.name,
        "flow_name": runtime.flow_run.flow_name,
        "parameters": runtime.flow_run.parameters,
        "run_count": runtime.flow_run.run_count,
        "scheduled": runtime.flow_run.scheduled_start_time.isoformat(),
        "deployment_id": runtime.deployment.id,
        "deployment_name": runtime.deployment.name,
        "deployment_parameters": runtime.deployment.parameters,
    }
    (_Path(__file__).resolve().parent.parent / "seen.json").write_text(_json.dumps(seen))
    return rows
"""


def test_runtime_in_a_worker_run_names_its_deployment(
    deployment_stack: Callable[..., Any],
) -> None:
    stack = deployment_stack()
    jobs = stack.folder / "flows" / "jobs.py"
    jobs.write_text(jobs.read_text() + PROBE)
    stack.deploy("probe", "--param", "rows=5")
    stack.start_worker()

    with HeadraceClient(stack.url) as client:
        run = run_deployment(
            f"probe/{stack.pool}", parameters={"day": "mon"}, timeout=90, client=client
        )
    assert run.state_type.value == "COMPLETED", run
    seen = json.loads((stack.folder / "seen.json").read_text())
    deployment = stack.http.get(f"/deployments/{run.deployment_id}").json()
    assert seen["flow_run_id"] == str(run.id)
    # The deployment's run took the name its flow's flow_run_name makes, as on Prefect.
    assert run.name == "probe-mon-5"
    assert seen["flow_run_name"] == "probe-mon-5"
    assert seen["flow_name"] == "probe"
    assert seen["parameters"] == {"day": "mon", "rows": 5}
    assert seen["run_count"] == 1
    assert seen["scheduled"] is not None
    assert seen["deployment_id"] == deployment["id"]
    assert seen["deployment_name"] == stack.pool
    assert seen["deployment_parameters"] == {"day": "mon", "rows": 5}
