"""Events for changes to deployments, work pools and work queues, written in the transaction of
the change (so an event exists exactly when its change was committed).

Names follow Prefect: `headrace.deployment.created`, `headrace.work-pool.updated`,
`headrace.work-queue.deleted`; the resource id is `headrace.<kind>.<uuid>`.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.events import RESOURCE_ID, RESOURCE_NAME, RESOURCE_ROLE
from headrace_service.store.events import event_record

Kind = Literal["deployment", "work-pool", "work-queue", "worker"]
Action = Literal["created", "updated", "deleted", "online"]


def resource_labels(kind: str, resource_id: uuid.UUID, name: str) -> dict[str, str]:
    return {RESOURCE_ID: f"headrace.{kind}.{resource_id}", RESOURCE_NAME: name}


def related_labels(kind: str, resource_id: uuid.UUID, name: str) -> dict[str, str]:
    return {**resource_labels(kind, resource_id, name), RESOURCE_ROLE: kind}


async def resource_changed(
    conn: AsyncConnection,
    kind: Kind,
    action: Action,
    resource_id: uuid.UUID,
    name: str,
    *,
    related: list[dict[str, str]] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record `headrace.<kind>.<action>`; `changes`: the fields an update set (the payload)."""
    payload = {"changes": changes} if changes else {}
    await event_record(
        conn,
        f"headrace.{kind}.{action}",
        resource_labels(kind, resource_id, name),
        related=related,
        payload=payload,
    )
