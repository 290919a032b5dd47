"""`/variables`: named JSON values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.variables import (
    Variable,
    VariableCreate,
    VariableQuery,
    VariableSet,
    VariableUpdate,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

VARIABLES = TypeAdapter(list[Variable])


def path(name: str) -> str:
    return f"/variables/{segment(name)}"


def create(client: HeadraceClient, body: VariableCreate) -> Variable:
    """Create a variable; `Conflict` when the name is taken."""
    return client.call("POST", "/variables", Variable, body)


def set_variable(client: HeadraceClient, name: str, body: VariableSet) -> Variable:
    """Create the variable or replace its value and tags."""
    return client.call("PUT", path(name), Variable, body)


def update(client: HeadraceClient, name: str, body: VariableUpdate) -> Variable:
    return client.call("PATCH", path(name), Variable, body, patch=True)


def read(client: HeadraceClient, name: str) -> Variable:
    return client.call("GET", path(name), Variable)


def list_variables(client: HeadraceClient, query: VariableQuery) -> list[Variable]:
    return client.call_list("GET", "/variables", VARIABLES, query=query)


def delete(client: HeadraceClient, name: str) -> None:
    client.send("DELETE", path(name))
