"""Flow runs: create, read, list, change state, list children."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from headrace._state_types import StateType
from headrace.schemas.common import State
from headrace.schemas.flow_runs import (
    FlowRun,
    FlowRunCreate,
    FlowRunDetail,
    FlowRunLease,
    FlowRunLeaseQuery,
    FlowRunList,
    FlowRunQuery,
    FlowRunReadQuery,
    FlowRunUpdate,
    SetStateRequest,
    SetStateResponse,
    SetStateStatus,
)
from headrace.schemas.pauses import SUSPENDED_BY_REQUEST
from headrace_service import queue
from headrace_service.api.deps import db, settings, to_model
from headrace_service.api.routing import Router
from headrace_service.auth import require_scope
from headrace_service.errors import ConflictError, InvalidInput, NotFoundError
from headrace_service.names import friendly_name
from headrace_service.queue.state_columns import SUSPENDED
from headrace_service.store import flow_runs as store
from headrace_service.store.flows import flow_get, flow_get_or_create
from headrace_service.transitions import INITIAL_TYPES, lease_refusal, one_of
from headrace_service.validation import parse_uuid

router = Router("flow_runs")


async def read_run(conn: AsyncConnection, run_id: object) -> FlowRun:
    row = await store.flow_run_get(conn, run_id)  # type: ignore[arg-type]
    if row is None:
        raise NotFoundError(f"flow run {run_id} not found")
    return to_model(FlowRun, row)


@router.route(
    "POST", "/flow_runs", scope="worker", body=FlowRunCreate, response=FlowRun, status=201
)
async def create_flow_run(request: Request, body: FlowRunCreate) -> FlowRun:
    """Create a flow run (of a flow named or identified) in its first state."""
    state = body.state
    state_type = state.type if state else StateType.PENDING
    if state_type not in INITIAL_TYPES:
        raise InvalidInput(f"body.state.type: a new run starts as {one_of(INITIAL_TYPES)}")
    async with db(request).begin() as conn:
        flow = await _flow_of(conn, body)
        row = await queue.flow_run_create(
            conn,
            flow_id=flow["id"],
            name=body.name or friendly_name(),
            state_type=state_type,
            state_name=state.resolved_name() if state else "Pending",
            state_message=state.message if state else None,
            parameters=body.parameters,
            tags=body.tags,
            parent_task_run_id=body.parent_task_run_id,
            max_retries=body.max_retries,
            retry_delay_seconds=body.retry_delay_seconds,
        )
        assert row is not None  # no idempotency key: the insert cannot be skipped
        return await read_run(conn, row["id"])


async def _flow_of(conn: AsyncConnection, body: FlowRunCreate) -> RowMapping:
    if body.flow_id is not None:
        flow = await flow_get(conn, str(body.flow_id), by="id")
        if flow is None:
            raise NotFoundError(f"flow {body.flow_id} not found")
        return flow
    if body.flow_name is None:
        raise InvalidInput("body: give flow_name or flow_id")
    return await flow_get_or_create(conn, body.flow_name)


@router.route("GET", "/flow_runs", query=FlowRunQuery, response=FlowRunList)
async def list_flow_runs(request: Request, query: FlowRunQuery) -> FlowRunList:
    """List flow runs, newest first, filtered by flow, state, deployment, pool or tag."""
    try:
        state_types = query.state_types()
    except ValueError:
        known = ", ".join(t.value for t in StateType)
        raise InvalidInput(
            f"query.state_type: unknown state type in {query.state_type!r}; known: {known}"
        ) from None
    async with db(request).read() as conn:
        rows = await store.flow_run_list(
            conn,
            flow_name=query.flow_name,
            state_types=[t.value for t in state_types] if state_types else None,
            deployment_id=query.deployment_id,
            work_pool_name=query.work_pool_name,
            tag=query.tag,
            limit=query.limit,
            offset=query.offset,
        )
    return FlowRunList(
        items=[to_model(FlowRun, r) for r in rows], limit=query.limit, offset=query.offset
    )


@router.route("GET", "/flow_runs/{run_id}", query=FlowRunReadQuery, response=FlowRunDetail)
async def read_flow_run(request: Request, run_id: str, query: FlowRunReadQuery) -> FlowRunDetail:
    """Read a flow run with its state history."""
    if query.reveal_secrets:
        await require_scope(request, "worker")
    rid = parse_uuid(run_id, "flow run")
    async with db(request).read() as conn:
        row = await store.flow_run_get_with_states(conn, rid)
    if row is None:
        raise NotFoundError(f"flow run {run_id} not found")
    return FlowRunDetail.model_validate(row, context={"reveal_secrets": query.reveal_secrets})


@router.route("PATCH", "/flow_runs/{run_id}", scope="worker", body=FlowRunUpdate, response=FlowRun)
async def update_flow_run(request: Request, run_id: str, body: FlowRunUpdate) -> FlowRun:
    """Rename a flow run (its flow's `flow_run_name`, applied when a deployment's run starts)."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        if not await store.flow_run_rename(conn, rid, body.name):
            raise NotFoundError(f"flow run {run_id} not found")
        return await read_run(conn, rid)


@router.route(
    "POST",
    "/flow_runs/{run_id}/set_state",
    scope="worker",
    body=SetStateRequest,
    response=SetStateResponse,
    status=201,
)
async def set_flow_run_state(
    request: Request, run_id: str, body: SetStateRequest
) -> SetStateResponse:
    """Propose a new state; 409 with the reason when the transition is refused."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        change = await queue.flow_run_set_state(
            conn,
            rid,
            state_type=body.state.type,
            state_name=body.state.resolved_name(),
            message=body.state.message,
            data=body.state.data,
            requester=body.worker_id,
            force=body.force,
            lease_seconds=settings(request).lease_seconds,
        )
        if not change.decision.accept:
            raise ConflictError(change.decision.reason)
        run = await read_run(conn, rid)
    return SetStateResponse(
        status=SetStateStatus.ACCEPT,
        state=to_model(State, change.state),
        reason=change.decision.reason,
        run=run,
    )


@router.route(
    "GET",
    "/flow_runs/{run_id}/lease",
    query=FlowRunLeaseQuery,
    response=FlowRunLease,
)
async def read_flow_run_lease(
    request: Request, run_id: str, query: FlowRunLeaseQuery
) -> FlowRunLease:
    """Whether `worker_id` still holds the run; 409 with the reason when it does not."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        lease = await queue.flow_run_lease_get(conn, rid)
    if lease is None:
        raise NotFoundError(f"flow run {run_id} not found")
    refused = lease_refusal(lease["worker_id"], query.worker_id, StateType(lease["state_type"]))
    if refused is not None and lease["state_name"] == SUSPENDED:
        # Suspended from outside while this attempt ran: its process stops, quietly.
        raise ConflictError(f"{SUSPENDED_BY_REQUEST}; a worker runs it again once it is resumed")
    if refused is not None:
        raise ConflictError(refused)
    return FlowRunLease(
        worker_id=query.worker_id,
        lease_expires_at=lease["lease_expires_at"],
        lease_seconds=settings(request).lease_seconds,
    )


@router.route("GET", "/flow_runs/{run_id}/children", response=list[FlowRun])
async def list_child_flow_runs(request: Request, run_id: str) -> list[FlowRun]:
    """The subflow runs started from this run's tasks."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)
        rows = await store.flow_run_list(conn, parent_flow_run_id=rid, limit=500)
    return [to_model(FlowRun, r) for r in rows]
