"""`/work_pools/{pool}/workers` and the claim: what a worker says to the API."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from headrace.client.work_pools import path as pool_path
from headrace.schemas.work_pools import (
    CancellationWait,
    ClaimedRun,
    ClaimRequest,
    HeartbeatResponse,
    Worker,
    WorkerHeartbeat,
)

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

WORKERS = TypeAdapter(list[Worker])
CLAIMED_RUNS = TypeAdapter(list[ClaimedRun])
RUN_IDS = TypeAdapter(list[uuid.UUID])


def heartbeat(
    client: HeadraceClient, pool: str, body: WorkerHeartbeat, **options: Any
) -> HeartbeatResponse:
    """Register the worker (first call) or renew it and the leases of the runs it names."""
    return client.call(
        "POST", f"{pool_path(pool)}/workers/heartbeat", HeartbeatResponse, body, **options
    )


def list_workers(client: HeadraceClient, pool: str) -> list[Worker]:
    return client.call_list("GET", f"{pool_path(pool)}/workers", WORKERS)


def claim(
    client: HeadraceClient, pool: str, body: ClaimRequest, **options: Any
) -> list[ClaimedRun]:
    """Take up to `body.limit` due runs (a long poll of `body.wait_seconds` when none is due)."""
    return client.call_list("POST", f"{pool_path(pool)}/claim", CLAIMED_RUNS, body, **options)


def wait_for_cancellations(
    client: HeadraceClient, pool: str, body: CancellationWait, **options: Any
) -> list[uuid.UUID]:
    """The held runs asked to stop (a long poll of `body.wait_seconds` when there are none)."""
    return client.call_list(
        "POST", f"{pool_path(pool)}/workers/cancellations", RUN_IDS, body, **options
    )
