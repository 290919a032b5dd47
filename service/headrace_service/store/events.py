"""Events: batch insert, filtered keyset pages, counts by name, and the live stream's reads.

Every insert ends with one NOTIFY on EVENT_CHANNEL (Postgres folds identical payloads of one
transaction into one), so live streams re-read only when something arrived; an insert of events
about flow runs (their resource, or a related resource) also tells those runs' open pages
(run_activity "events"), which list them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.events import RESOURCE_ID, EventCreate, EventFilter
from headrace_service.errors import InvalidInput
from headrace_service.store.run_activity import run_activity_announce

EVENT_CHANNEL = "headrace_event"
FLOW_RUN_RESOURCE = "headrace.flow-run."

# The columns of an event computed from its JSON: the resource id and the related ids are
# copied out so that the filters use plain indexes.
EVENT_COLUMNS_SQL = """
    SELECT e.id, e.event, e.occurred, e.resource ->> 'headrace.resource.id', e.resource,
           e.related,
           ARRAY(SELECT r ->> 'headrace.resource.id' FROM jsonb_array_elements(e.related) r),
           e.payload"""

INSERT_EVENTS_SQL = f"""
    INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids, payload)
    {EVENT_COLUMNS_SQL}
    FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(
        id uuid, event text, occurred timestamptz, resource jsonb, related jsonb, payload jsonb)
    ON CONFLICT (id) DO NOTHING
"""

_EVENTS = TypeAdapter(list[EventCreate])


async def announce_events(conn: AsyncConnection) -> None:
    await conn.execute(text(f"SELECT pg_notify('{EVENT_CHANNEL}', '')"))


def flow_runs_named(resource_ids: Iterable[str | None]) -> set[uuid.UUID]:
    """The flow runs among event resource ids (`headrace.flow-run.<id>`); other ids, and a
    malformed run id an API client made up, are no run."""
    runs: set[uuid.UUID] = set()
    for resource_id in resource_ids:
        if resource_id is None or not resource_id.startswith(FLOW_RUN_RESOURCE):
            continue
        try:
            runs.add(uuid.UUID(resource_id.removeprefix(FLOW_RUN_RESOURCE)))
        except ValueError:
            continue
    return runs


async def announce_stored(
    conn: AsyncConnection,
    events: Iterable[tuple[dict[str, str], list[dict[str, str]]]],
) -> None:
    """NOTIFY that events were stored (given as their resource and related resources): on
    EVENT_CHANNEL, and to the open pages of the flow runs they are about. Read from what was
    sent, not from the rows (a RETURNING measurably slowed batch ingest): an event skipped as a
    duplicate only makes its run's page re-read once for nothing."""
    await announce_events(conn)
    runs = flow_runs_named(
        label.get(RESOURCE_ID) for resource, related in events for label in (resource, *related)
    )
    if runs:
        await run_activity_announce(conn, "events", runs)


async def events_insert(conn: AsyncConnection, events: list[EventCreate], now: datetime) -> int:
    """Store a batch in one statement; events without `occurred` happened at `now`."""
    if not events:
        return 0
    rows = [e if e.occurred is not None else e.model_copy(update={"occurred": now}) for e in events]
    done = await conn.execute(text(INSERT_EVENTS_SQL), {"events": _EVENTS.dump_json(rows).decode()})
    await announce_stored(conn, ((e.resource, e.related) for e in events))
    return done.rowcount


async def event_record(
    conn: AsyncConnection,
    name: str,
    resource: dict[str, str],
    *,
    related: list[dict[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """One event the server itself produces (a deployment created...), in the caller's
    transaction: it exists exactly when the change it describes was committed."""
    event = {
        "event": name,
        "resource": resource,
        "related": related or [],
        "payload": payload or {},
    }
    await conn.execute(
        text(
            f"""
            INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids,
                               payload)
            {EVENT_COLUMNS_SQL}
            FROM (SELECT gen_random_uuid() AS id, now() AS occurred, j ->> 'event' AS event,
                         j -> 'resource' AS resource, j -> 'related' AS related,
                         j -> 'payload' AS payload
                  FROM (SELECT CAST(:event AS jsonb) AS j) i) e
            """
        ),
        {"event": json.dumps(event, default=str)},
    )
    await announce_stored(conn, [(resource, related or [])])


def check_filter(f: EventFilter) -> None:
    """A 422 for a filter that cannot be read (before a stream starts, not inside it)."""
    _where(f)


def _where(f: EventFilter) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if f.name is not None:
        escaped = f.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("event LIKE :name_prefix")
        params["name_prefix"] = escaped + "%"
    if f.resource is not None:
        clauses.append("resource_id = :resource_id")
        params["resource_id"] = f.resource
    try:
        pair = f.label_pair()
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    if pair is not None:
        clauses.append("resource @> CAST(:label AS jsonb)")
        params["label"] = json.dumps({pair[0]: pair[1]})
    if f.related is not None:
        clauses.append("related_ids @> ARRAY[CAST(:related_id AS text)]")
        params["related_id"] = f.related
    if f.since is not None:
        clauses.append("occurred >= :since")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("occurred < :until")
        params["until"] = f.until
    return clauses, params


def _page_token(row: RowMapping) -> str:
    return f"{row['occurred'].isoformat()}|{row['seq']}"


def _parse_page(page: str) -> tuple[datetime, int]:
    occurred, _, seq = page.rpartition("|")
    try:
        return datetime.fromisoformat(occurred), int(seq)
    except ValueError:
        raise InvalidInput(
            "query.page: not a page token; pass the `next_page` of the previous answer"
        ) from None


async def events_page(
    conn: AsyncConnection, f: EventFilter, *, limit: int, page: str | None
) -> tuple[list[RowMapping], str | None]:
    """Newest first; a page continues strictly after the last event of the previous one."""
    clauses, params = _where(f)
    if page is not None:
        occurred, seq = _parse_page(page)
        clauses.append("(occurred, seq) < (:page_occurred, :page_seq)")
        params.update(page_occurred=occurred, page_seq=seq)
    where = " AND ".join(clauses) or "true"
    rows = list(
        (
            await conn.execute(
                text(
                    f"SELECT * FROM event WHERE {where} "
                    "ORDER BY occurred DESC, seq DESC LIMIT :limit"
                ),
                {**params, "limit": limit + 1},
            )
        ).mappings()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_page_token(rows[-1]) if more and rows else None)


async def events_after(
    conn: AsyncConnection, f: EventFilter, after: int, limit: int = 500
) -> list[RowMapping]:
    """What arrived after `seq` `after` and matches, in arrival order (the live stream)."""
    clauses, params = _where(f)
    clauses.append("seq > :after")
    return list(
        (
            await conn.execute(
                text(
                    f"SELECT * FROM event WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT :limit"
                ),
                {**params, "after": after, "limit": limit},
            )
        ).mappings()
    )


async def last_seq(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT coalesce(max(seq), 0) FROM event"))).scalar_one())


async def event_counts(conn: AsyncConnection, f: EventFilter) -> list[RowMapping]:
    clauses, params = _where(f)
    where = " AND ".join(clauses) or "true"
    return list(
        (
            await conn.execute(
                text(
                    f"SELECT event, count(*) AS count FROM event WHERE {where} "
                    "GROUP BY event ORDER BY count(*) DESC, event LIMIT 1000"
                ),
                params,
            )
        ).mappings()
    )


# Appended to a statement whose CTE `stored` holds the task_run_state rows it inserted: their
# events, in the same statement (task run states have no outbox; they change no queue state).
# The event id is derived from the state's id, so a report sent twice makes one event.
TASK_RUN_EVENTS_SQL = f"""
    INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids, payload)
    {EVENT_COLUMNS_SQL}
    FROM (
        SELECT CAST(md5('headrace.task_run_state.' || s.id) AS uuid) AS id,
               'headrace.task-run.' || s.name AS event,
               s.timestamp AS occurred,
               jsonb_build_object(
                   'headrace.resource.id', 'headrace.task-run.' || tr.id,
                   'headrace.resource.name', tr.name,
                   'headrace.state-type', s.type,
                   'headrace.state-name', s.name
               ) AS resource,
               jsonb_build_array(jsonb_build_object(
                   'headrace.resource.id', 'headrace.flow-run.' || tr.flow_run_id,
                   'headrace.resource.role', 'flow-run'
               )) || coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                       'headrace.resource.id', 'headrace.tag.' || t,
                       'headrace.resource.role', 'tag'))
                   FROM unnest(tr.tags) t), '[]'::jsonb) AS related,
               jsonb_build_object(
                   'validated_state', jsonb_build_object('type', s.type, 'name', s.name)
               ) AS payload
        FROM stored s JOIN task_run tr ON tr.id = s.task_run_id
        ORDER BY s.timestamp
    ) e
    ON CONFLICT (id) DO NOTHING
"""


async def events_of_flow_run(
    conn: AsyncConnection, run_id: uuid.UUID, limit: int
) -> list[RowMapping]:
    """A run's events, newest first: its own state changes and every event related to it (its
    task runs' states, what its code emitted)."""
    resource_id = f"headrace.flow-run.{run_id}"
    return list(
        (
            await conn.execute(
                text(
                    """
                    SELECT * FROM event
                    WHERE resource_id = :rid OR related_ids @> ARRAY[CAST(:rid AS text)]
                    ORDER BY occurred DESC, seq DESC LIMIT :limit
                    """
                ),
                {"rid": resource_id, "limit": limit},
            )
        ).mappings()
    )
