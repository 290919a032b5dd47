"""Automations: create, read, list, update (pause/resume), delete, and their recent firings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.automations import (
    Automation,
    AutomationCreate,
    AutomationQuery,
    AutomationUpdate,
    Firing,
    FiringQuery,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.patching import changes_of
from headrace_service.api.routing import Router
from headrace_service.automations.definitions import check_actions
from headrace_service.automations.evaluator import automation_labels
from headrace_service.errors import ConflictError, NotFoundError
from headrace_service.store import automations as store
from headrace_service.store.events import event_record

router = Router("automations")


@router.route(
    "POST", "/automations", scope="admin", body=AutomationCreate, response=Automation, status=201
)
async def create_automation(request: Request, body: AutomationCreate) -> Automation:
    """Create an automation; 409 when the name is taken, 422 naming a field to fix."""
    async with db(request).begin() as conn:
        await check_actions(conn, body.actions)
        row = await store.automation_create(conn, body.model_dump(mode="json"))
        if row is None:
            raise ConflictError(
                f"automation {body.name!r} already exists; change it with "
                "`headrace automation update`"
            )
        await _changed(conn, "created", row)
    return to_model(Automation, row)


@router.route("GET", "/automations", query=AutomationQuery, response=list[Automation])
async def list_automations(request: Request, query: AutomationQuery) -> list[Automation]:
    """Automations by name."""
    async with db(request).begin() as conn:
        rows = await store.automation_list(
            conn, name_contains=query.name_contains, limit=query.limit, offset=query.offset
        )
    return [to_model(Automation, r) for r in rows]


@router.route("GET", "/automations/{automation}", response=Automation)
async def read_automation(request: Request, automation: str) -> Automation:
    """One automation, by id or name."""
    async with db(request).begin() as conn:
        return to_model(Automation, await _require(conn, automation))


@router.route(
    "PATCH",
    "/automations/{automation}",
    scope="admin",
    body=AutomationUpdate,
    response=Automation,
)
async def update_automation(
    request: Request, automation: str, body: AutomationUpdate
) -> Automation:
    """Change what the body gives: `enabled: false` pauses it, `true` resumes it."""
    changes = changes_of(body)
    if "trigger" in changes:
        changes["trigger"] = body.model_dump(mode="json")["trigger"]
    if "actions" in changes:
        changes["actions"] = body.model_dump(mode="json")["actions"]
    async with db(request).begin() as conn:
        current = await _require(conn, automation)
        if body.actions is not None:
            await check_actions(conn, body.actions)
        renamed = "name" in changes and changes["name"] != current["name"]
        if renamed and await store.automation_get_by_name(conn, changes["name"]) is not None:
            raise ConflictError(f"body.name: automation {changes['name']!r} already exists")
        row = await store.automation_update(conn, current["id"], changes)
        assert row is not None  # locked by nothing, but read a moment ago in this transaction
        if changes:
            await _changed(conn, "updated", row, list(changes))
    return to_model(Automation, row)


@router.route("DELETE", "/automations/{automation}", scope="admin", status=204)
async def delete_automation(request: Request, automation: str) -> Response:
    """Delete an automation and its firings."""
    async with db(request).begin() as conn:
        current = await _require(conn, automation)
        await store.automation_delete(conn, current["id"])
        await _changed(conn, "deleted", current)
    return Response(status_code=204)


@router.route("GET", "/automations/{automation}/firings", query=FiringQuery, response=list[Firing])
async def list_firings(request: Request, automation: str, query: FiringQuery) -> list[Firing]:
    """The automation's recent firings, newest first, with the outcome of each action."""
    async with db(request).begin() as conn:
        current = await _require(conn, automation)
        rows = await store.firings_recent(conn, current["id"], query.limit)
    return [to_model(Firing, r) for r in rows]


async def _require(conn: AsyncConnection, automation: str) -> RowMapping:
    row: RowMapping | None
    try:
        row = await store.automation_get(conn, uuid.UUID(automation))
    except ValueError:
        row = await store.automation_get_by_name(conn, automation)
    if row is None:
        raise NotFoundError(f"no automation {automation!r}; see `headrace automation ls`")
    return row


async def _changed(
    conn: AsyncConnection, action: str, row: RowMapping, fields: list[str] | None = None
) -> None:
    payload: dict[str, Any] = {"fields": fields} if fields else {}
    await event_record(
        conn,
        f"headrace.automation.{action}",
        automation_labels(row["id"], row["name"]),
        payload=payload,
    )
