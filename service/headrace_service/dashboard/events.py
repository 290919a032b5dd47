"""Server-Sent Events: every flow run state change, fanned out from the process's one LISTEN.

The browser opens one EventSource per page; each stream is a subscription to
app.state.notifier, so a thousand open tabs cost a thousand in-memory queues and still one
database connection. `?flow_run=<id>` narrows the stream to one run (the run page).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headrace_service.notifier import Event, Notifier

HEARTBEAT_SECONDS = 15.0
# Tells EventSource how soon to reconnect after the stream drops (server restart, network).
RECONNECT_MS = 2000


def sse_message(event: Event) -> str:
    """One SSE frame; a None event (the listener reconnected) becomes a `reread` event."""
    if event is None:
        return "event: reread\ndata: {}\n\n"
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


async def event_stream(notifier: Notifier, only_run: str | None) -> AsyncIterator[str]:
    # Starlette cancels this generator when the client disconnects, which leaves the
    # subscription (the `async with` unsubscribes on the way out).
    async with notifier.subscribe() as subscription:
        yield f"retry: {RECONNECT_MS}\n: connected\n\n"
        while True:
            arrived, event = await subscription.next(HEARTBEAT_SECONDS)
            if not arrived:
                # Proxies and browsers drop silent connections; a comment keeps it open.
                yield ": heartbeat\n\n"
            elif event is None or only_run is None or event.get("id") == only_run:
                yield sse_message(event)


async def events_endpoint(request: Request) -> Response:
    only_run = request.query_params.get("flow_run") or None
    return StreamingResponse(
        event_stream(request.app.state.notifier, only_run),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
