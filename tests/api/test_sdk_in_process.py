"""The real SDK against the real app in this process, through httpx's ASGI transport: a flow
with tasks, a subflow and log lines is recorded, and read back through the typed client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headrace import flow, get_run_logger, task
from headrace.client import HeadraceClient, flow_runs, logs, task_runs
from headrace.ports.backend import api_backend, set_backend
from headrace.schemas.flow_runs import FlowRunQuery
from headrace.schemas.logs import LogQuery
from headrace.settings import client_settings
from tests.api.conftest import InProcessTransport

URL = "http://in-process/api"


@pytest.fixture
def in_process_client(
    in_process_transport: InProcessTransport, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HeadraceClient]:
    """A client whose requests reach the app in-process, used by flows run in the test."""
    monkeypatch.setenv("HEADRACE_API_URL", URL)
    client_settings.cache_clear()
    client = HeadraceClient(URL, transport=in_process_transport, retries=0)
    assert client.health()
    previous = set_backend(api_backend(client))
    try:
        yield client
    finally:
        set_backend(previous)


@task
def square(x: int) -> int:
    return x * x


@flow
def child(n: int) -> int:
    return square(n)


@flow(log_prints=True)
def squares(n: int) -> int:
    get_run_logger().info("squaring %d numbers", n)
    total = sum(f.result() for f in square.map(range(n)))
    print(f"total {total}")
    return total + child(n)


def test_a_flow_with_tasks_and_a_subflow_is_recorded_in_process(
    in_process_client: HeadraceClient,
) -> None:
    assert squares(3) == 0 + 1 + 4 + 9

    page = flow_runs.list_runs(in_process_client, FlowRunQuery(flow_name="squares"))
    [run] = page.items
    detail = flow_runs.read(in_process_client, run.id)
    assert detail.state_name == "Completed"
    assert detail.parameters == {"n": 3}
    assert [state.name for state in detail.states] == ["Running", "Completed"]

    recorded = task_runs.of_flow_run(in_process_client, run.id)
    assert sorted(t.name for t in recorded) == ["child-0", "square-0", "square-1", "square-2"]
    assert {t.state_name for t in recorded} == {"Completed"}
    [subflow] = flow_runs.children(in_process_client, run.id)
    assert subflow.flow_name == "child" and subflow.state_name == "Completed"

    lines = logs.of_flow_run(in_process_client, run.id, LogQuery()).items
    messages = [line.message for line in lines]
    assert "squaring 3 numbers" in messages
    assert "total 5" in messages
