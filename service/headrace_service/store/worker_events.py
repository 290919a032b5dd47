"""`headrace.worker.online` and `headrace.worker.offline` events.

A worker is online while it heartbeats (store/work_pools.py: it counts as offline after
MISSED_HEARTBEATS_OFFLINE missed heartbeats); no row records the moment it goes offline, so:
- online: the heartbeat that finds its worker new or offline records the event, in its
  transaction;
- offline: each pass of the event relay loop records the workers whose offline moment
  (last heartbeat + the missed heartbeats) passed within OFFLINE_LOOKBACK. The event's id is
  derived from the worker and its last heartbeat, so passes that see the same silence again
  (another replica, the next pass) store it once.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.store.events import EVENT_COLUMNS_SQL, announce_events
from headrace_service.store.work_pools import MISSED_HEARTBEATS_OFFLINE

OFFLINE_LOOKBACK = "10 minutes"

_OFFLINE_AT = """w.last_heartbeat + make_interval(
    secs => :missed * coalesce(w.heartbeat_interval_seconds, :heartbeat_seconds))"""


async def worker_was_online(
    conn: AsyncConnection, pool_id: uuid.UUID, name: str, heartbeat_seconds: float
) -> bool:
    """Whether the pool's worker `name` exists and counts as online now."""
    online = await conn.execute(
        text(
            f"SELECT {_OFFLINE_AT} > now() FROM worker w "
            "WHERE w.work_pool_id = :pool_id AND w.name = :name"
        ),
        {
            "pool_id": pool_id,
            "name": name,
            "missed": MISSED_HEARTBEATS_OFFLINE,
            "heartbeat_seconds": heartbeat_seconds,
        },
    )
    return bool(online.scalar())


_RECORD_OFFLINE = text(
    f"""
    INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids, payload)
    {EVENT_COLUMNS_SQL}
    FROM (
        SELECT CAST(md5('headrace.worker.offline.' || w.id || w.last_heartbeat) AS uuid) AS id,
               'headrace.worker.offline' AS event,
               {_OFFLINE_AT} AS occurred,
               jsonb_build_object('headrace.resource.id', 'headrace.worker.' || w.id,
                                  'headrace.resource.name', w.name) AS resource,
               jsonb_build_array(jsonb_build_object(
                   'headrace.resource.id', 'headrace.work-pool.' || wp.id,
                   'headrace.resource.role', 'work-pool',
                   'headrace.resource.name', wp.name)) AS related,
               jsonb_build_object('last_heartbeat', w.last_heartbeat) AS payload
        FROM worker w JOIN work_pool wp ON wp.id = w.work_pool_id
        WHERE {_OFFLINE_AT} <= now()
          AND {_OFFLINE_AT} > now() - interval '{OFFLINE_LOOKBACK}'
    ) e
    ON CONFLICT (id) DO NOTHING
    """
)


async def record_workers_offline(conn: AsyncConnection, heartbeat_seconds: float) -> int:
    done = await conn.execute(
        _RECORD_OFFLINE,
        {"missed": MISSED_HEARTBEATS_OFFLINE, "heartbeat_seconds": heartbeat_seconds},
    )
    if done.rowcount:
        await announce_events(conn)
    return done.rowcount
