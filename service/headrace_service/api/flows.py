"""Flows."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.flows import Flow, FlowCreate
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.errors import NotFoundError
from headrace_service.store.flows import flow_get, flow_get_or_create
from headrace_service.validation import parse_uuid

router = Router("flows")


@router.route("POST", "/flows", scope="worker", body=FlowCreate, response=Flow)
async def create_flow(request: Request, body: FlowCreate) -> Flow:
    """Create a flow, or get the one with this name."""
    async with db(request).begin() as conn:
        return to_model(Flow, await flow_get_or_create(conn, body.name))


@router.route("GET", "/flows/{flow_id}", response=Flow)
async def read_flow(request: Request, flow_id: str) -> Flow:
    """Read a flow by id."""
    async with db(request).begin() as conn:
        row = await flow_get(conn, str(parse_uuid(flow_id, "flow_id")), by="id")
    if row is None:
        raise NotFoundError(f"flow {flow_id} not found")
    return to_model(Flow, row)


@router.route("GET", "/flows/name/{name}", response=Flow)
async def read_flow_by_name(request: Request, name: str) -> Flow:
    """Read a flow by name."""
    async with db(request).begin() as conn:
        row = await flow_get(conn, name, by="name")
    if row is None:
        raise NotFoundError(f"flow {name!r} not found")
    return to_model(Flow, row)
