"""Events: write a batch, filter with keyset pages, count by name, and a live SSE stream.

Under `/api/event_feed`: `/api/events` is the dashboard's stream of run updates (older, and
different: ids of changed runs, not events). The live stream, `/api/event_feed/stream`, is in
dashboard/event_stream.py: like `/api/events` it never ends, so it is a plain route (read key).
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from headrace.schemas.events import (
    Event,
    EventBatch,
    EventCount,
    EventFilter,
    EventPage,
    EventQuery,
    EventsAccepted,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.store import events as store

router = Router("events")


@router.route(
    "POST", "/event_feed", scope="worker", body=EventBatch, response=EventsAccepted, status=201
)
async def write_events(request: Request, body: EventBatch) -> EventsAccepted:
    """Store a batch of events (an event whose id is already stored is skipped)."""
    async with db(request).begin() as conn:
        accepted = await store.events_insert(conn, body.events, datetime.now(UTC))
    return EventsAccepted(accepted=accepted)


@router.route("GET", "/event_feed", query=EventQuery, response=EventPage)
async def read_events(request: Request, query: EventQuery) -> EventPage:
    """Events matching the filter, newest first; pass `next_page` back as `page`."""
    async with db(request).begin() as conn:
        rows, next_page = await store.events_page(conn, query, limit=query.limit, page=query.page)
    return EventPage(items=[to_model(Event, r) for r in rows], next_page=next_page)


@router.route("GET", "/event_feed/count", query=EventFilter, response=list[EventCount])
async def count_events(request: Request, query: EventFilter) -> list[EventCount]:
    """How many events match the filter, by event name (most frequent first)."""
    async with db(request).begin() as conn:
        rows = await store.event_counts(conn, query)
    return [to_model(EventCount, r) for r in rows]
