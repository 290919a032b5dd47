"""SecretStr parameters: the run gets the real value; people and read keys see a mask."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

SECRET_FLOW = """
from pathlib import Path
from pydantic import SecretStr
from headrace import flow

@flow
def connect(user: str, password: SecretStr) -> None:
    Path("seen.txt").write_text(f"{user}:{password.get_secret_value()}")
"""


def test_secret_parameters_reach_the_run_and_are_masked_everywhere_else(
    deployment_stack: Callable[..., Any],
) -> None:
    stack = deployment_stack()
    (stack.folder / "flows" / "secret.py").write_text(textwrap.dedent(SECRET_FLOW))
    stack.cli(
        "deploy",
        "flows/secret.py:connect",
        "--name",
        "db",
        "--pool",
        stack.pool,
        "--param",
        "user=ada",
        "--param",
        "password=hunter2",
    )
    deployment = stack.http.get("/deployments/name/connect/db").json()
    assert deployment["parameters"] == {"user": "ada", "password": "**********"}

    run_id = stack.cli("deployment", "run", "connect/db").stdout.strip().splitlines()[-1]
    stack.start_worker()
    finished = stack.http.get(f"/flow_runs/{run_id}/wait", params={"timeout": 60}).json()
    assert finished["state_type"] == "COMPLETED", finished
    assert (stack.folder / "seen.txt").read_text() == "ada:hunter2"  # the flow got the secret

    assert finished["parameters"] == {"user": "ada", "password": "**********"}
    listed = stack.http.get("/flow_runs", params={"flow_name": "connect"}).json()["items"]
    assert listed[0]["parameters"]["password"] == "**********"
    inspected = json.loads(stack.cli("flow-run", "inspect", run_id, "--json").stdout)
    assert inspected["parameters"]["password"] == "**********"
    page = stack.http.get(stack.url.removesuffix("/api") + f"/runs/{run_id}").text
    assert "hunter2" not in page and "**********" in page
    revealed = stack.http.get(f"/flow_runs/{run_id}", params={"reveal_secrets": "true"}).json()
    assert revealed["parameters"]["password"] == "hunter2"
