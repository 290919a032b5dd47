"""Emit events from flows, tasks or plain code (Prefect 3's `prefect.events.emit_event`).

    from headrace.events import emit_event

    emit_event(
        event="orders.table.refreshed",
        resource={"headrace.resource.id": "warehouse.orders", "rows": "1200"},
        payload={"seconds": 3.2},
    )

The event is validated at once (a bad one raises `ValueError` here), then queued and sent in
batches by a background thread: the call never waits for the API. Inside a flow or task run,
the run is added to `related` (roles `flow-run`, `task-run`). Queued events are sent at process
exit. See docs/events.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from headrace.schemas.events import RESOURCE_ID, RESOURCE_ROLE, Event, EventCreate

__all__ = ["Event", "emit_event", "flush_events"]


def emit_event(
    event: str,
    resource: dict[str, str],
    occurred: datetime | None = None,
    related: list[dict[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
    id: uuid.UUID | None = None,
) -> Event | None:
    """Queue an event for the API; the event as it will be stored, or None when there is no
    API to send it to (a flow run offline, in tests without a server)."""
    from headrace.event_queue import QUEUE
    from headrace.run_api import caller

    who = caller()
    links = list(related or [])
    known = {r.get(RESOURCE_ID) for r in links}
    for kind, run_id in (("flow-run", who.flow_run_id), ("task-run", who.task_run_id)):
        if run_id is not None and f"headrace.{kind}.{run_id}" not in known:
            links.append({RESOURCE_ID: f"headrace.{kind}.{run_id}", RESOURCE_ROLE: kind})
    created = EventCreate(
        id=id or uuid.uuid4(),
        event=event,
        occurred=occurred or datetime.now(UTC),
        resource=resource,
        related=links,
        payload=payload or {},
    )
    if who.client is None:
        return None
    QUEUE.put(who.client, created)
    return Event.model_validate(created.model_dump())


def flush_events(timeout: float = 10.0) -> bool:
    """Wait until the events emitted so far were sent; False if `timeout` passed first."""
    from headrace.event_queue import QUEUE

    return QUEUE.flush(timeout)
