"""Pool types are plug-ins: a worker of a type registered by another distribution's entry point
runs a flow run, with no edit of headrace."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import HEADRACE
from tests.second_pool_type import NAME, install_second_pool_type


def test_a_worker_of_a_plugged_in_pool_type_runs_a_flow_run(
    deployment_stack: Callable[..., Any], tmp_path: Path
) -> None:
    stack = deployment_stack()
    plugins = install_second_pool_type(tmp_path)
    stack.env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(plugins), os.environ.get("PYTHONPATH")])
    )
    # The service takes the type without knowing it; the CLI checks the plug-ins installed here.
    made = stack.cli("work-pool", "create", stack.pool, "--type", NAME, "--overwrite")
    assert "created" in made.stdout or "updated" in made.stdout, made
    assert stack.http.get(f"/work_pools/{stack.pool}").json()["type"] == NAME
    greet = stack.deploy("greet")
    with (tmp_path / "worker.log").open("wb") as log:
        stack.workers.append(
            subprocess.Popen(
                [*HEADRACE, "worker", "start", "--pool", stack.pool],
                cwd=stack.folder,
                env=stack.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    done = stack.cli("deployment", "run", greet, "--param", "who=plugin", "--watch", timeout=90)
    assert "hello plugin" in done.stdout and "finished Completed" in done.stdout, done
    [worker] = stack.http.get(f"/work_pools/{stack.pool}/workers").json()
    assert worker["pool_type"] == NAME
    assert worker["job_variables_schema"]["properties"] == {"nice": {"type": "integer"}}
