"""`/flow_runs`: runs of flows, their states and their children."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.flow_runs import (
    FlowRun,
    FlowRunCreate,
    FlowRunDetail,
    FlowRunLease,
    FlowRunLeaseQuery,
    FlowRunList,
    FlowRunQuery,
    FlowRunReadQuery,
    FlowRunRetry,
    FlowRunUpdate,
    FlowRunWaitQuery,
    SetStateRequest,
    SetStateResponse,
)
from headrace.schemas.pauses import PauseRequest, PauseResponse, ResumeRequest, SuspendRequest

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

FLOW_RUNS = TypeAdapter(list[FlowRun])


def path(flow_run_id: uuid.UUID | str) -> str:
    return f"/flow_runs/{segment(flow_run_id)}"


def create(client: HeadraceClient, body: FlowRunCreate) -> FlowRun:
    return client.call("POST", "/flow_runs", FlowRun, body)


def read(
    client: HeadraceClient,
    flow_run_id: uuid.UUID | str,
    *,
    reveal_secrets: bool = False,
    **options: Any,
) -> FlowRunDetail:
    """A run with its state history; `reveal_secrets` (a worker key) unmasks SecretStr
    parameters, as the engine needs them."""
    query = FlowRunReadQuery(reveal_secrets=reveal_secrets) if reveal_secrets else None
    response = client.send("GET", path(flow_run_id), query=query, **options)
    return FlowRunDetail.model_validate(response.json(), context={"reveal_secrets": reveal_secrets})


def list_runs(client: HeadraceClient, query: FlowRunQuery) -> FlowRunList:
    """Runs matching `query`, newest first."""
    return client.call("GET", "/flow_runs", FlowRunList, query=query)


def set_state(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, body: SetStateRequest, **options: Any
) -> SetStateResponse:
    """Propose a state; `Conflict` (409) when the server refuses it."""
    return client.call("POST", f"{path(flow_run_id)}/set_state", SetStateResponse, body, **options)


def lease(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, worker_id: uuid.UUID, **options: Any
) -> FlowRunLease:
    """The run's lease, if `worker_id` still holds it; `Conflict` (409) saying why if not."""
    query = FlowRunLeaseQuery(worker_id=worker_id)
    return client.call("GET", f"{path(flow_run_id)}/lease", FlowRunLease, query=query, **options)


def rename(client: HeadraceClient, flow_run_id: uuid.UUID | str, name: str) -> FlowRun:
    return client.call("PATCH", path(flow_run_id), FlowRun, FlowRunUpdate(name=name))


def cancel(client: HeadraceClient, flow_run_id: uuid.UUID | str) -> FlowRun:
    return client.call("POST", f"{path(flow_run_id)}/cancel", FlowRun)


def retry(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, *, from_failure: bool = False
) -> FlowRun:
    """Send a failed or crashed deployment run back to Scheduled for a new attempt."""
    body = FlowRunRetry(from_failure=from_failure)
    return client.call("POST", f"{path(flow_run_id)}/retry", FlowRun, body)


def wait(
    client: HeadraceClient,
    flow_run_id: uuid.UUID | str,
    seconds: float,
    *,
    paused: bool = False,
    **options: Any,
) -> FlowRun:
    """The run once it is terminal (or, with `paused`, no longer waiting Paused), or after
    `seconds`, whichever comes first."""
    query = FlowRunWaitQuery(timeout=seconds, paused=paused)
    return client.call("GET", f"{path(flow_run_id)}/wait", FlowRun, query=query, **options)


def pause(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, body: PauseRequest
) -> PauseResponse:
    """Pause (or suspend) the run from its own process; `Conflict` (409) when refused."""
    return client.call("POST", f"{path(flow_run_id)}/pause", PauseResponse, body)


def suspend(client: HeadraceClient, flow_run_id: uuid.UUID | str, body: SuspendRequest) -> FlowRun:
    """Suspend another Running run of a deployment; `Conflict` (409) when refused."""
    return client.call("POST", f"{path(flow_run_id)}/suspend", FlowRun, body)


def resume(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, run_input: dict[str, Any] | None = None
) -> FlowRun:
    """Resume a paused run; `Conflict` (409) when it is not paused, `InvalidRequest`-style
    422 naming the field when `run_input` does not fit what the run waits for."""
    body = ResumeRequest(run_input=run_input)
    return client.call("POST", f"{path(flow_run_id)}/resume", FlowRun, body)


def children(client: HeadraceClient, flow_run_id: uuid.UUID | str) -> list[FlowRun]:
    return client.call_list("GET", f"{path(flow_run_id)}/children", FLOW_RUNS)
