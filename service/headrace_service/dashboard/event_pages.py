"""The Events page: the newest events matching a name prefix, then new ones live (the
`/api/event_feed/stream` SSE stream, from the newest event shown, so none falls in between)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.events import EventFilter
from headrace_service.app_state import request_database
from headrace_service.dashboard.templating import render
from headrace_service.store.events import events_page, last_seq

SHOWN = 100


async def events_dashboard_page(request: Request) -> Response:
    prefix = request.query_params.get("name", "").strip()
    problem = None
    try:
        f = EventFilter(name=prefix or None)
    except ValidationError:
        problem = "The name prefix is too long."
        f = EventFilter()
    async with request_database(request).begin() as conn:
        after = await last_seq(conn)
        rows, _ = await events_page(conn, f, limit=SHOWN, page=None)
    # Compact JSON text, escaped by the template like any text (never marked safe).
    payloads = {
        row["seq"]: json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":"))
        for row in rows
    }
    page: dict[str, Any] = {"events": rows, "prefix": prefix, "problem": problem, "after": after}
    return render("events.html", title="Events", nav="events", payload_text=payloads, **page)
