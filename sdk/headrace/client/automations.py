"""`/automations`: triggers over events and the actions they run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.automations import (
    Automation,
    AutomationCreate,
    AutomationQuery,
    AutomationUpdate,
    Firing,
    FiringQuery,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

AUTOMATIONS = TypeAdapter(list[Automation])
FIRINGS = TypeAdapter(list[Firing])


def path(name_or_id: str) -> str:
    return f"/automations/{segment(name_or_id)}"


def create(client: HeadraceClient, body: AutomationCreate) -> Automation:
    """Create an automation; `Conflict` when the name is taken."""
    return client.call("POST", "/automations", Automation, body)


def update(client: HeadraceClient, name_or_id: str, body: AutomationUpdate) -> Automation:
    return client.call("PATCH", path(name_or_id), Automation, body, patch=True)


def read(client: HeadraceClient, name_or_id: str) -> Automation:
    return client.call("GET", path(name_or_id), Automation)


def list_automations(client: HeadraceClient, query: AutomationQuery) -> list[Automation]:
    return client.call_list("GET", "/automations", AUTOMATIONS, query=query)


def firings(client: HeadraceClient, name_or_id: str, limit: int = 20) -> list[Firing]:
    return client.call_list(
        "GET", path(name_or_id) + "/firings", FIRINGS, query=FiringQuery(limit=limit)
    )


def delete(client: HeadraceClient, name_or_id: str) -> None:
    client.send("DELETE", path(name_or_id))
