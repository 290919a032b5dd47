"""Variables: named JSON values; create, read, list, set (create or replace), update, delete."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.names import resource_name_problem
from headrace.schemas.variables import (
    Variable,
    VariableCreate,
    VariableQuery,
    VariableSet,
    VariableUpdate,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.errors import ConflictError, InvalidInput, NotFoundError
from headrace_service.store import variables as store

router = Router("variables")


@router.route(
    "POST", "/variables", scope="worker", body=VariableCreate, response=Variable, status=201
)
async def create_variable(request: Request, body: VariableCreate) -> Variable:
    """Create a variable; 409 when the name is taken."""
    async with db(request).begin() as conn:
        row = await store.variable_create(conn, body.name, body.value, body.tags)
    if row is None:
        raise ConflictError(
            f"variable {body.name!r} already exists; set it with PUT to replace its value"
        )
    return to_model(Variable, row)


@router.route("GET", "/variables", query=VariableQuery, response=list[Variable])
async def list_variables(request: Request, query: VariableQuery) -> list[Variable]:
    """Variables by name, optionally filtered by part of the name or a tag."""
    async with db(request).begin() as conn:
        rows = await store.variable_list(conn, query)
    return [to_model(Variable, r) for r in rows]


@router.route("GET", "/variables/{name}", response=Variable)
async def read_variable(request: Request, name: str) -> Variable:
    """One variable by name."""
    async with db(request).begin() as conn:
        row = await store.variable_get(conn, name)
    return to_model(Variable, _found(row, name))


@router.route("PUT", "/variables/{name}", scope="worker", body=VariableSet, response=Variable)
async def set_variable(request: Request, name: str, body: VariableSet) -> Variable:
    """Create the variable, or replace its value and tags."""
    name = name.strip()
    problem = resource_name_problem(name)
    if problem is not None:
        raise InvalidInput(f"name: {problem}")
    async with db(request).begin() as conn:
        row = await store.variable_upsert(conn, name, body.value, body.tags)
    return to_model(Variable, row)


@router.route("PATCH", "/variables/{name}", scope="worker", body=VariableUpdate, response=Variable)
async def update_variable(request: Request, name: str, body: VariableUpdate) -> Variable:
    """Change a variable's value and/or tags (only what the body gives)."""
    changes = body.model_dump(include=body.model_fields_set)
    async with db(request).begin() as conn:
        row = await store.variable_update(conn, name, changes)
    return to_model(Variable, _found(row, name))


@router.route("DELETE", "/variables/{name}", scope="worker", status=204)
async def delete_variable(request: Request, name: str) -> Response:
    """Delete a variable."""
    async with db(request).begin() as conn:
        if not await store.variable_delete(conn, name):
            raise NotFoundError(f"no variable named {name!r}")
    return Response(status_code=204)


def _found(row: RowMapping | None, name: str) -> RowMapping:
    if row is None:
        raise NotFoundError(f"no variable named {name!r}")
    return row
