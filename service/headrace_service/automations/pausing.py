"""Actions that pause or resume a work pool, a work queue or an automation (in the caller's
transaction, with the same change event the API writes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import (
    PauseAutomation,
    PauseWorkPool,
    PauseWorkQueue,
    ResumeAutomation,
    ResumeWorkPool,
    ResumeWorkQueue,
)
from headrace.schemas.events import RESOURCE_NAME, RESOURCE_ROLE
from headrace_service.automations.actions import ActionFailed, Firing
from headrace_service.automations.targets import find_automation
from headrace_service.store import automations as automation_store
from headrace_service.store import work_pools as pools
from headrace_service.store.events import event_record
from headrace_service.store.resource_events import related_labels, resource_changed

# Liveness of workers does not matter here; any positive value reads the pool.
_HEARTBEAT_SECONDS = 30.0


def _pool_name(ref: str | None, firing: Firing) -> str:
    if ref is not None:
        return ref
    for labels in (firing.event or {}).get("related", []):
        if labels.get(RESOURCE_ROLE) == "work-pool" and labels.get(RESOURCE_NAME):
            return str(labels[RESOURCE_NAME])
    raise ActionFailed("the triggering event names no work pool; set `work_pool`")


async def set_pool_paused(
    conn: AsyncConnection, action: PauseWorkPool | ResumeWorkPool, firing: Firing
) -> str:
    name = _pool_name(action.work_pool, firing)
    paused = isinstance(action, PauseWorkPool)
    pool = await pools.work_pool_get(conn, name, heartbeat_seconds=_HEARTBEAT_SECONDS)
    if pool is None:
        raise ActionFailed(f"work pool {name!r} not found")
    await pools.work_pool_update(conn, name, {"paused": paused})
    await resource_changed(
        conn, "work-pool", "updated", pool["id"], name, changes={"paused": paused}
    )
    return f"{'paused' if paused else 'resumed'} work pool {name!r}"


async def set_queue_paused(
    conn: AsyncConnection, action: PauseWorkQueue | ResumeWorkQueue, firing: Firing
) -> str:
    paused = isinstance(action, PauseWorkQueue)
    pool = await pools.work_pool_get(conn, action.work_pool, heartbeat_seconds=_HEARTBEAT_SECONDS)
    if pool is None:
        raise ActionFailed(f"work pool {action.work_pool!r} not found")
    queue = await pools.work_queue_get(conn, pool["id"], action.work_queue)
    if queue is None:
        raise ActionFailed(f"work queue {action.work_queue!r} not found in {action.work_pool!r}")
    await pools.work_queue_update(conn, queue["id"], {"paused": paused})
    await resource_changed(
        conn,
        "work-queue",
        "updated",
        queue["id"],
        queue["name"],
        related=[related_labels("work-pool", pool["id"], pool["name"])],
        changes={"paused": paused},
    )
    verb = "paused" if paused else "resumed"
    return f"{verb} work queue {action.work_queue!r} of {action.work_pool!r}"


async def set_automation_enabled(
    conn: AsyncConnection, action: PauseAutomation | ResumeAutomation, firing: Firing
) -> str:
    ref = action.automation or str(firing.automation_id)
    found = await find_automation(conn, ref)
    if found is None:
        raise ActionFailed(f"automation {ref!r} not found")
    enabled = isinstance(action, ResumeAutomation)
    row = await automation_store.automation_update(conn, found["id"], {"enabled": enabled})
    assert row is not None
    await event_record(
        conn,
        "headrace.automation.updated",
        {
            "headrace.resource.id": f"headrace.automation.{row['id']}",
            RESOURCE_NAME: row["name"],
        },
        payload={"fields": ["enabled"]},
    )
    return f"{'resumed' if enabled else 'paused'} automation {row['name']!r}"
