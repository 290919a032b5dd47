"""SecretStr parameters: the run gets the real value; people and read keys see a mask."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

SECRET_FLOW = """
from pathlib import Path
from pydantic import BaseModel, SecretStr
from headrace import flow

class Login(BaseModel):
    user: str
    password: SecretStr

@flow
def connect(
    user: str,
    password: SecretStr,
    backup: Login | None = None,
    tokens: list[SecretStr] | None = None,
) -> None:
    seen = [password.get_secret_value(), backup.password.get_secret_value()]
    seen += [t.get_secret_value() for t in tokens]
    Path("seen.txt").write_text(f"{user}:{','.join(seen)}")
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
        "--param",
        'backup={"user": "bob", "password": "hunter3"}',
        "--param",
        'tokens=["hunter4"]',
    )
    deployment = stack.http.get("/deployments/name/connect/db").json()
    masked = {
        "user": "ada",
        "password": "**********",
        "backup": {"user": "bob", "password": "**********"},
        "tokens": ["**********"],
    }
    assert deployment["parameters"] == masked

    run_id = stack.cli("deployment", "run", "connect/db").stdout.strip().splitlines()[-1]
    stack.start_worker()
    finished = stack.http.get(f"/flow_runs/{run_id}/wait", params={"timeout": 60}).json()
    assert finished["state_type"] == "COMPLETED", finished
    # The flow got every secret.
    assert (stack.folder / "seen.txt").read_text() == "ada:hunter2,hunter3,hunter4"

    assert finished["parameters"] == masked
    listed = stack.http.get("/flow_runs", params={"flow_name": "connect"}).json()["items"]
    assert listed[0]["parameters"]["password"] == "**********"
    inspected = json.loads(stack.cli("flow-run", "inspect", run_id, "--json").stdout)
    assert inspected["parameters"]["password"] == "**********"
    page = stack.http.get(stack.url.removesuffix("/api") + f"/runs/{run_id}").text
    assert "hunter" not in page and "**********" in page
    deployment_page = stack.http.get(
        stack.url.removesuffix("/api") + f"/deployments/{deployment['id']}"
    ).text
    assert "hunter" not in deployment_page
    revealed = stack.http.get(f"/flow_runs/{run_id}", params={"reveal_secrets": "true"}).json()
    assert revealed["parameters"]["password"] == "hunter2"
