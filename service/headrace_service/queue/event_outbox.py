"""The outbox relay: flow run state changes (event_outbox rows) become events.

The state tail (state_tail.py) writes an outbox row in the transaction of every state change;
this statement takes the oldest unprocessed rows (SKIP LOCKED: two replicas never take the same
row), marks them processed and inserts their events, in one transaction. Its event ids are
derived from the outbox ids, so an event can never be stored twice. The event says what the run
was when the relay read it (name, flow, deployment, work pool, tags): those rarely change, and
reading them here keeps the state tail, on every state change's path, as cheap as it was.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.store.events import EVENT_COLUMNS_SQL, announce_events
from headrace_service.store.run_activity import run_activity_announce

FLOW_RUN_PREFIX = "headrace.flow-run."

_RELAY = text(
    f"""
    WITH taken AS (
        SELECT id FROM event_outbox WHERE processed_at IS NULL
        ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    ), done AS (
        UPDATE event_outbox o SET processed_at = now() FROM taken WHERE o.id = taken.id
        RETURNING o.*
    )
    INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids, payload)
    {EVENT_COLUMNS_SQL}
    FROM (
        SELECT CAST(md5('headrace.event_outbox.' || done.id) AS uuid) AS id,
               'headrace.flow-run.' || done.new_state_name AS event,
               done.occurred,
               done.id AS outbox_id,
               jsonb_strip_nulls(jsonb_build_object(
                   'headrace.resource.id', 'headrace.flow-run.' || done.flow_run_id,
                   'headrace.resource.name', fr.name,
                   'headrace.state-type', done.new_state_type,
                   'headrace.state-name', done.new_state_name
               )) AS resource,
               (SELECT coalesce(jsonb_agg(r.x ORDER BY r.n), '[]'::jsonb) FROM (
                    SELECT 1 AS n, jsonb_build_object(
                        'headrace.resource.id', 'headrace.flow.' || f.id,
                        'headrace.resource.role', 'flow', 'headrace.resource.name', f.name) AS x
                    FROM flow f WHERE f.id = fr.flow_id
                    UNION ALL
                    SELECT 2, jsonb_build_object(
                        'headrace.resource.id', 'headrace.deployment.' || d.id,
                        'headrace.resource.role', 'deployment', 'headrace.resource.name', d.name)
                    FROM deployment d WHERE d.id = fr.deployment_id
                    UNION ALL
                    SELECT 3, jsonb_build_object(
                        'headrace.resource.id', 'headrace.work-pool.' || p.id,
                        'headrace.resource.role', 'work-pool', 'headrace.resource.name', p.name)
                    FROM work_pool p WHERE p.id = fr.work_pool_id
                    UNION ALL
                    SELECT 4, jsonb_build_object(
                        'headrace.resource.id', 'headrace.tag.' || t,
                        'headrace.resource.role', 'tag')
                    FROM unnest(fr.tags) t
               ) r) AS related,
               jsonb_build_object(
                   'intended', jsonb_build_object(
                       'from', done.old_state_type, 'to', done.new_state_type),
                   'initial_state', CASE WHEN done.old_state_type IS NULL THEN NULL
                       ELSE jsonb_build_object(
                           'type', done.old_state_type, 'name', done.old_state_name) END,
                   'validated_state', jsonb_build_object(
                       'type', done.new_state_type, 'name', done.new_state_name)
               ) AS payload
        FROM done JOIN flow_run fr ON fr.id = done.flow_run_id
    ) e
    ORDER BY e.outbox_id
    ON CONFLICT (id) DO NOTHING
    RETURNING resource_id
    """
)


async def relay_outbox(conn: AsyncConnection, limit: int) -> int:
    """Turn up to `limit` unprocessed outbox rows into events; how many were taken."""
    resources = list((await conn.execute(_RELAY, {"limit": limit})).scalars())
    if resources:
        await announce_events(conn)
        # Open run pages list their run's events: they re-read when new ones are stored.
        runs = {uuid.UUID(r.removeprefix(FLOW_RUN_PREFIX)) for r in resources}
        await run_activity_announce(conn, "events", runs)
    return len(resources)
