"""Server-Sent Events fanned out from the process's one LISTEN connection.

The browser opens one EventSource per page; each stream is a subscription to the app's
notifier (app_state.py), so a thousand open tabs cost a thousand in-memory queues and still one
database connection.

- `/api/events`: every flow run state change (`data: {"id", "state_type", "work_pool_id"}`).
- `/api/events?flow_run=<id>`: that run's state changes, plus `event: task_runs`, `event: logs`
  and `event: events` (`data: {"flow_run_id"}`) when task runs, log lines or events (the relay's,
  queue/event_outbox.py) of the run were stored, so its page reads what is new instead of polling.
- `event: reread` on either: the listener reconnected and something may have been missed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headrace_service.app_state import request_state
from headrace_service.errors import InvalidInput
from headrace_service.notifier import Event, Notifier
from headrace_service.store.run_activity import RUN_ACTIVITY_CHANNEL

HEARTBEAT_SECONDS = 15.0
# Tells EventSource how soon to reconnect after the stream drops (server restart, network).
RECONNECT_MS = 2000


def sse_message(event: Event, name: str | None = None) -> str:
    """One SSE frame; a None event (the listener reconnected) becomes a `reread` event."""
    if event is None:
        return "event: reread\ndata: {}\n\n"
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(event, separators=(',', ':'))}\n\n"


def run_frame(event: Event, run_id: str) -> str | None:
    """The frame a run page gets for `event`, or None when the event is about other runs."""
    if event is None:
        return sse_message(None)
    kind = event.get("kind")
    if kind is None:  # a state change on the flow run channel
        return sse_message(event) if event.get("id") == run_id else None
    ids = event.get("flow_run_ids")
    # null: the batch touched too many runs to list; every run page re-reads (cheaply).
    if ids is None or run_id in ids:
        return sse_message({"flow_run_id": run_id}, str(kind))
    return None


async def event_stream(
    notifier: Notifier, only_run: str | None, poll_seconds: float
) -> AsyncIterator[str]:
    # Only a run page hears task-run and log traffic; list pages do not need it.
    channels = [notifier.channel] if only_run is None else [notifier.channel, RUN_ACTIVITY_CHANNEL]
    # Starlette cancels this generator when the client disconnects, which leaves the
    # subscription (the `async with` unsubscribes on the way out).
    async with notifier.subscribe(channels) as subscription:
        yield f"retry: {RECONNECT_MS}\n: connected\n\n"
        # With LISTEN off (a transaction-mode pooler) no event ever comes: the page is told to
        # re-read every `poll_seconds` instead, one cheap read per open page.
        wait = HEARTBEAT_SECONDS if notifier.enabled else min(poll_seconds, HEARTBEAT_SECONDS)
        while True:
            arrived, event = await subscription.next(wait)
            if not arrived and not notifier.enabled:
                yield sse_message(None)
            elif not arrived:
                # Proxies and browsers drop silent connections; a comment keeps it open.
                yield ": heartbeat\n\n"
            elif only_run is None:
                yield sse_message(event)
            elif (frame := run_frame(event, only_run)) is not None:
                yield frame


def run_filter(params: QueryParams) -> str | None:
    """The run of `?flow_run=<id>`, or None for all runs. A misspelt filter is a 422: it
    would otherwise open a stream of every run's events that looks like a working filter."""
    unknown = sorted(set(params) - {"flow_run"})
    if unknown:
        raise InvalidInput(
            f"query.{unknown[0][:100]}: unknown parameter; /api/events takes only "
            "flow_run=<flow run id>, or nothing for every run"
        )
    value = params.get("flow_run")
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f"query.flow_run: {value[:100]!r} is not a flow run id") from None


async def events_endpoint(request: Request) -> Response:
    only_run = run_filter(request.query_params)
    state = request_state(request)
    return StreamingResponse(
        event_stream(state["notifier"], only_run, state["settings"].claim_fallback_poll_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
