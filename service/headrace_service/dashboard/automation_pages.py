"""Automations: the list (trigger, actions, last firing, pause/resume) and one automation with
its definition and recent firings (each action's outcome)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from headrace_service.app_state import request_database
from headrace_service.dashboard.templating import not_found, render
from headrace_service.store import automations as store
from headrace_service.store import webhooks as webhook_store

MAX_AUTOMATIONS = 500
RECENT_FIRINGS = 25


async def automations_page(request: Request) -> Response:
    async with request_database(request).begin() as conn:
        rows = await store.automation_list(
            conn, name_contains=None, limit=MAX_AUTOMATIONS, offset=0
        )
        last = await store.last_firings(conn, [r["id"] for r in rows])
        hooks = await webhook_store.webhook_list(conn, MAX_AUTOMATIONS, 0)
    return render(
        "automations.html",
        title="Automations",
        nav="automations",
        automations=rows,
        last=last,
        webhooks=hooks,
    )


async def automation_page(request: Request) -> Response:
    try:
        automation_id = uuid.UUID(request.path_params["automation_id"])
    except ValueError:
        return not_found("no such automation")
    async with request_database(request).begin() as conn:
        row = await store.automation_get(conn, automation_id)
        if row is None:
            return not_found("no such automation (it may have been deleted)")
        firings = await store.firings_recent(conn, automation_id, RECENT_FIRINGS)
    return render("automation.html", title=row["name"], nav="automations", a=row, firings=firings)
