"""`/flows`: named pieces of user code."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from headrace.client.transport import segment
from headrace.schemas.flows import Flow, FlowCreate

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient


def create(client: HeadraceClient, body: FlowCreate) -> Flow:
    """The flow of that name, created if new."""
    return client.call("POST", "/flows", Flow, body)


def read(client: HeadraceClient, flow_id: uuid.UUID) -> Flow:
    return client.call("GET", f"/flows/{segment(flow_id)}", Flow)


def read_by_name(client: HeadraceClient, name: str) -> Flow:
    return client.call("GET", f"/flows/name/{segment(name)}", Flow)
