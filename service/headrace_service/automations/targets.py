"""What an action names, looked up: a deployment by `flow/name` or id, an automation by name
or id. Apart from the actions, so that checking a definition does not import them (the actions
import the API's run creation, which imports the definitions' checks)."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.store import automations as automation_store
from headrace_service.store import deployments as deployment_store


async def find_deployment(conn: AsyncConnection, ref: str) -> RowMapping | None:
    """A deployment by `flow/name` or by id."""
    flow_name, sep, name = ref.partition("/")
    if sep:
        return await deployment_store.deployment_get_by_name(conn, flow_name, name)
    try:
        return await deployment_store.deployment_get(conn, uuid.UUID(ref))
    except ValueError:
        return None


async def find_automation(conn: AsyncConnection, ref: str) -> RowMapping | None:
    try:
        return await automation_store.automation_get(conn, uuid.UUID(ref))
    except ValueError:
        return await automation_store.automation_get_by_name(conn, ref)
