"""Events: write a batch, filter with keyset pages, count by name, and a live SSE stream.

Under `/api/event_feed`: `/api/events` is the dashboard's stream of run updates (older, and
different: ids of changed runs, not events).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headrace.schemas.events import (
    Event,
    EventBatch,
    EventCount,
    EventFilter,
    EventPage,
    EventQuery,
    EventsAccepted,
    EventStreamQuery,
)
from headrace_service.api.deps import db, notifier, settings, to_model
from headrace_service.api.routing import Router
from headrace_service.dashboard.events import HEARTBEAT_SECONDS, RECONNECT_MS
from headrace_service.db import Database
from headrace_service.notifier import Notifier
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
        rows, next_page = await store.events_page(
            conn, query, limit=query.limit, page=query.page
        )
    return EventPage(items=[to_model(Event, r) for r in rows], next_page=next_page)


@router.route("GET", "/event_feed/count", query=EventFilter, response=list[EventCount])
async def count_events(request: Request, query: EventFilter) -> list[EventCount]:
    """How many events match the filter, by event name (most frequent first)."""
    async with db(request).begin() as conn:
        rows = await store.event_counts(conn, query)
    return [to_model(EventCount, r) for r in rows]


@router.route("GET", "/event_feed/stream", query=EventStreamQuery)
async def stream_events(request: Request, query: EventStreamQuery) -> Response:
    """Server-Sent Events: each new event matching the filter, as it is stored (`id:` is its
    `seq`; a reconnecting client's `Last-Event-ID` resumes after it)."""
    after = query.after
    resume = request.headers.get("last-event-id", "")
    if resume.isdigit() and len(resume) < 19:
        after = int(resume)
    database = db(request)
    if after is None:
        async with database.begin() as conn:
            after = await store.last_seq(conn)
    poll = settings(request).claim_fallback_poll_seconds
    return StreamingResponse(
        _stream(database, notifier(request), query, after, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    database: Database, events: Notifier, f: EventFilter, after: int, poll: float
) -> AsyncIterator[str]:
    async with events.subscribe([store.EVENT_CHANNEL]) as subscription:
        yield f"retry: {RECONNECT_MS}\n: connected\n\n"
        # Without LISTEN (a transaction-mode pooler) nothing wakes us: poll instead.
        wait = HEARTBEAT_SECONDS if events.enabled else min(poll, HEARTBEAT_SECONDS)
        while True:
            # Read until caught up: one wake-up may stand for many inserts.
            while True:
                async with database.begin() as conn:
                    rows = await store.events_after(conn, f, after)
                for row in rows:
                    after = row["seq"]
                    body = to_model(Event, row).model_dump_json()
                    yield f"id: {after}\nevent: event\ndata: {body}\n\n"
                if len(rows) < 500:
                    break
            arrived, _ = await subscription.next(wait)
            if not arrived and events.enabled:
                yield ": heartbeat\n\n"
