"""Input sent to a flow run by another run or a program (`send_input` / `receive_input`)."""

from __future__ import annotations

from starlette.requests import Request

from headrace.schemas.run_inputs import RunInputCreate, RunInputQuery, RunInputRead
from headrace_service.api.deps import db, to_model
from headrace_service.api.flow_runs import read_run
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError, NotFoundError
from headrace_service.store import run_inputs as store
from headrace_service.validation import parse_uuid

router = Router("flow_runs")


@router.route(
    "POST",
    "/flow_runs/{run_id}/input",
    scope="worker",
    body=RunInputCreate,
    response=RunInputRead,
    status=201,
)
async def create_run_input(request: Request, run_id: str, body: RunInputCreate) -> RunInputRead:
    """Send an input to a run under a key of its own; 409 when the run has that key already."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)  # 404 for an unknown run
        row = await store.run_input_create(conn, rid, body.key, body.value, body.sender)
    if row is None:
        raise ConflictError(f"body.key: flow run {run_id} already has an input {body.key!r}")
    return to_model(RunInputRead, row)


@router.route("GET", "/flow_runs/{run_id}/input", query=RunInputQuery, response=list[RunInputRead])
async def list_run_inputs(
    request: Request, run_id: str, query: RunInputQuery
) -> list[RunInputRead]:
    """The run's inputs in the order they came, after the input `after`."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)
        rows = await store.run_input_list(
            conn, rid, key_prefix=query.key_prefix, after=query.after, limit=query.limit
        )
    return [to_model(RunInputRead, row) for row in rows]


@router.route("GET", "/flow_runs/{run_id}/input/{key:path}", response=RunInputRead)
async def read_run_input(request: Request, run_id: str, key: str) -> RunInputRead:
    """The run's input `key` (`RunInput.load`); 404 when it has none."""
    rid = parse_uuid(run_id, "flow run")
    async with db(request).begin() as conn:
        await read_run(conn, rid)
        row = await store.run_input_get(conn, rid, key)
    if row is None:
        raise NotFoundError(f"flow run {run_id} has no input {key[:200]!r}")
    return to_model(RunInputRead, row)
