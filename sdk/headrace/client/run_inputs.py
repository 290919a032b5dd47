"""`/flow_runs/{id}/input`: input sent to a flow run."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import TypeAdapter

from headrace.client.flow_runs import path
from headrace.schemas.run_inputs import RunInputCreate, RunInputQuery, RunInputRead

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

RUN_INPUTS = TypeAdapter(list[RunInputRead])


def send(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, body: RunInputCreate
) -> RunInputRead:
    """Store an input for the run; `Conflict` (409) when its key is taken."""
    return client.call("POST", f"{path(flow_run_id)}/input", RunInputRead, body)


def after(
    client: HeadraceClient, flow_run_id: uuid.UUID | str, query: RunInputQuery
) -> list[RunInputRead]:
    """The run's inputs in the order they came, after `query.after`."""
    return client.call_list("GET", f"{path(flow_run_id)}/input", RUN_INPUTS, query=query)


def read(client: HeadraceClient, flow_run_id: uuid.UUID | str, key: str) -> RunInputRead:
    """The run's input `key`; `NotFound` (404) when it has none."""
    return client.call("GET", f"{path(flow_run_id)}/input/{quote(key, safe='')}", RunInputRead)
