"""`GET /api/event_feed/stream`: new events matching a filter, as Server-Sent Events.

A plain route beside `/api/events` (dashboard/events.py) rather than a declared API route: it
never ends. It needs a read key like every dashboard route (header or the dashboard's cookie).
Each frame is `id: <seq>`, `event: event`, `data: <the event as JSON>`; a client reconnecting
with `Last-Event-ID` (EventSource does) resumes after the last event it had. Woken by the
NOTIFY of each insert (store/events.py); without LISTEN it polls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headrace.schemas.events import Event, EventFilter, EventStreamQuery
from headrace_service.api.routing import check_text_params, validate
from headrace_service.app_state import request_database, request_state
from headrace_service.dashboard.events import HEARTBEAT_SECONDS, RECONNECT_MS
from headrace_service.db import Database
from headrace_service.errors import InvalidInput
from headrace_service.notifier import Notifier
from headrace_service.store import events as store

READ_BATCH = 500


async def event_stream_endpoint(request: Request) -> Response:
    params = dict(request.query_params)
    check_text_params(params, "query")
    # A misspelt filter would otherwise open a stream of every event that looks like it works.
    unknown = sorted(set(params) - set(EventStreamQuery.model_fields))
    if unknown:
        raise InvalidInput(
            f"query.{unknown[0][:100]}: unknown parameter; the stream takes "
            f"{', '.join(EventStreamQuery.model_fields)}"
        )
    query = validate(EventStreamQuery, params, "query")
    store.check_filter(query)
    after = query.after
    resume = request.headers.get("last-event-id", "")
    if resume.isdigit() and len(resume) < 19:
        after = int(resume)
    database = request_database(request)
    if after is None:
        async with database.begin() as conn:
            after = await store.last_seq(conn)
    state = request_state(request)
    return StreamingResponse(
        _stream(
            database, state["notifier"], query, after, state["settings"].claim_fallback_poll_seconds
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    database: Database, notifier: Notifier, f: EventFilter, after: int, poll: float
) -> AsyncIterator[str]:
    async with notifier.subscribe([store.EVENT_CHANNEL]) as subscription:
        yield f"retry: {RECONNECT_MS}\n: connected\n\n"
        # Without LISTEN (a transaction-mode pooler) nothing wakes us: poll instead.
        wait = HEARTBEAT_SECONDS if notifier.enabled else min(poll, HEARTBEAT_SECONDS)
        while True:
            while True:  # read until caught up: one wake-up may stand for many inserts
                async with database.begin() as conn:
                    rows = await store.events_after(conn, f, after, READ_BATCH)
                for row in rows:
                    after = row["seq"]
                    body = Event.model_validate(dict(row)).model_dump_json()
                    yield f"id: {after}\nevent: event\ndata: {body}\n\n"
                if len(rows) < READ_BATCH:
                    break
            arrived, _ = await subscription.next(wait)
            if not arrived and notifier.enabled:
                yield ": heartbeat\n\n"  # proxies and browsers drop silent connections
