"""Automations: their definitions, the evaluator's cursor and buckets, firings and actions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

_COLUMNS = "id, name, description, enabled, trigger, actions, deployment_id, created, updated"


async def automation_create(
    conn: AsyncConnection, definition: dict[str, Any], deployment_id: uuid.UUID | None = None
) -> RowMapping | None:
    """Insert a new automation; None when the name is taken."""
    rows = await conn.execute(
        text(
            f"""
            INSERT INTO automation (name, description, enabled, trigger, actions, deployment_id)
            VALUES (:name, :description, :enabled, CAST(:trigger AS jsonb),
                    CAST(:actions AS jsonb), :deployment_id)
            ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}
            """
        ),
        {
            **definition,
            "deployment_id": deployment_id,
            "trigger": json.dumps(definition["trigger"]),
            "actions": json.dumps(definition["actions"]),
        },
    )
    return rows.mappings().first()


async def automation_update(
    conn: AsyncConnection, automation_id: uuid.UUID, changes: dict[str, Any]
) -> RowMapping | None:
    """Change what `changes` gives; a new trigger forgets the counts of the old one."""
    sets = ["updated = now()"]
    params: dict[str, Any] = {"id": automation_id}
    for column in ("name", "description", "enabled"):
        if column in changes:
            sets.append(f"{column} = :{column}")
            params[column] = changes[column]
    for column in ("trigger", "actions"):
        if column in changes:
            sets.append(f"{column} = CAST(:{column} AS jsonb)")
            params[column] = json.dumps(changes[column])
    rows = await conn.execute(
        text(f"UPDATE automation SET {', '.join(sets)} WHERE id = :id RETURNING {_COLUMNS}"),
        params,
    )
    row = rows.mappings().first()
    if row is not None and ("trigger" in changes or changes.get("enabled") is False):
        await conn.execute(
            text("DELETE FROM automation_bucket WHERE automation_id = :id"), {"id": automation_id}
        )
    return row


async def automation_get(conn: AsyncConnection, automation_id: uuid.UUID) -> RowMapping | None:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM automation WHERE id = :id"), {"id": automation_id}
    )
    return rows.mappings().first()


async def automation_get_by_name(conn: AsyncConnection, name: str) -> RowMapping | None:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM automation WHERE name = :name"), {"name": name}
    )
    return rows.mappings().first()


async def automation_list(
    conn: AsyncConnection, *, name_contains: str | None, limit: int, offset: int
) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM automation "
            "WHERE CAST(:contains AS text) IS NULL OR strpos(name, :contains) > 0 "
            "ORDER BY name LIMIT :limit OFFSET :offset"
        ),
        {"contains": name_contains, "limit": limit, "offset": offset},
    )
    return list(rows.mappings())


async def automations_enabled(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM automation WHERE enabled ORDER BY created, id")
    )
    return list(rows.mappings())


async def automations_of_deployment_delete(conn: AsyncConnection, deployment_id: uuid.UUID) -> None:
    await conn.execute(
        text("DELETE FROM automation WHERE deployment_id = :id"), {"id": deployment_id}
    )


async def automation_delete(conn: AsyncConnection, automation_id: uuid.UUID) -> bool:
    deleted = await conn.execute(
        text("DELETE FROM automation WHERE id = :id"), {"id": automation_id}
    )
    return bool(deleted.rowcount)


@dataclass
class Cursor:
    """Every event up to `last` is evaluated, and the `done` ones above it; `gaps`: seqs above
    it not seen yet, each with a transaction id their transaction is older than."""

    last: int
    done: set[int]
    gaps: dict[int, int]


async def cursor_read(conn: AsyncConnection) -> Cursor | None:
    """The evaluator's position. Not locked: the evaluator's advisory lock keeps other passes
    out, and a row lock would give this transaction its id before it reads the events. None
    when the row was missing and is made now (evaluate in the next transaction)."""
    row = (
        await conn.execute(text("SELECT last_seq, done_seqs, gaps FROM automation_cursor"))
    ).one_or_none()
    if row is None:  # a database restored without the migration's row
        await conn.execute(text("INSERT INTO automation_cursor (id) VALUES (1)"))
        return None
    gaps = {int(seq): int(xid) for seq, xid in row.gaps.items()}
    return Cursor(int(row.last_seq), {int(s) for s in row.done_seqs}, gaps)


async def cursor_save(conn: AsyncConnection, cursor: Cursor) -> None:
    last = cursor.last
    await conn.execute(
        text(
            "UPDATE automation_cursor SET last_seq = :last, done_seqs = :done, "
            "gaps = CAST(:gaps AS jsonb), updated = now() WHERE id = 1"
        ),
        {
            "last": last,
            "done": sorted(s for s in cursor.done if s > last),
            "gaps": json.dumps(
                {str(s): str(x) for s, x in sorted(cursor.gaps.items()) if s > last}
            ),
        },
    )


async def oldest_running_xact(conn: AsyncConnection) -> int:
    """Every transaction with an id below this one has ended (committed or rolled back)."""
    xmin = await conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))
    return int(xmin.scalar_one())


async def own_xact(conn: AsyncConnection) -> int:
    """This transaction's id, given now if it has none: above that of every transaction that
    had one before this call."""
    xid = await conn.execute(text("SELECT pg_current_xact_id()::text"))
    return int(xid.scalar_one())


async def events_from(
    conn: AsyncConnection, after: int, done: set[int], limit: int
) -> list[RowMapping]:
    """Stored events after `seq` `after`, but the `done` ones, in arrival order."""
    rows = await conn.execute(
        text(
            "SELECT seq, id, event, occurred, resource, related, payload FROM event "
            "WHERE seq > :after AND seq <> ALL(:done) ORDER BY seq LIMIT :limit"
        ),
        {"after": after, "done": sorted(done), "limit": limit},
    )
    return list(rows.mappings())


async def newest_seq(conn: AsyncConnection, at_least: int) -> int:
    newest = (await conn.execute(text("SELECT max(seq) FROM event"))).scalar_one_or_none()
    return max(at_least, int(newest or 0))


async def buckets_of(conn: AsyncConnection, automation_ids: list[uuid.UUID]) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            "SELECT automation_id, key, opened, count, opener FROM automation_bucket "
            "WHERE automation_id = ANY(:ids)"
        ),
        {"ids": automation_ids},
    )
    return list(rows.mappings())


async def bucket_put(
    conn: AsyncConnection,
    automation_id: uuid.UUID,
    key: str,
    opened: datetime,
    count: int,
    opener: dict[str, Any] | None,
) -> None:
    await conn.execute(
        text(
            """
            INSERT INTO automation_bucket (automation_id, key, opened, count, opener)
            VALUES (:automation_id, :key, :opened, :count, CAST(:opener AS jsonb))
            ON CONFLICT (automation_id, key) DO UPDATE
                SET opened = EXCLUDED.opened, count = EXCLUDED.count, opener = EXCLUDED.opener
            """
        ),
        {
            "automation_id": automation_id,
            "key": key,
            "opened": opened,
            "count": count,
            "opener": json.dumps(opener) if opener is not None else None,
        },
    )


async def bucket_delete(conn: AsyncConnection, automation_id: uuid.UUID, key: str) -> None:
    await conn.execute(
        text("DELETE FROM automation_bucket WHERE automation_id = :a AND key = :k"),
        {"a": automation_id, "k": key},
    )


async def firing_insert(
    conn: AsyncConnection,
    automation_id: uuid.UUID,
    idempotency_key: str,
    event: dict[str, Any] | None,
    actions: list[dict[str, Any]],
) -> uuid.UUID | None:
    """Record a firing and its actions, pending; None when this key already fired."""
    firing_id = (
        await conn.execute(
            text(
                """
                INSERT INTO automation_firing (automation_id, idempotency_key, event)
                VALUES (:automation_id, :key, CAST(:event AS jsonb))
                ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
                """
            ),
            {
                "automation_id": automation_id,
                "key": idempotency_key,
                "event": json.dumps(event) if event is not None else None,
            },
        )
    ).scalar_one_or_none()
    if firing_id is None:
        return None
    await conn.execute(
        text(
            """
            INSERT INTO automation_action (firing_id, index, type, action)
            SELECT :firing_id, a.ordinality - 1, a.value ->> 'type', a.value
            FROM jsonb_array_elements(CAST(:actions AS jsonb)) WITH ORDINALITY a
            """
        ),
        {"firing_id": firing_id, "actions": json.dumps(actions)},
    )
    return uuid.UUID(str(firing_id))


async def action_take(conn: AsyncConnection, limit: int) -> list[RowMapping]:
    """Pending actions, locked (SKIP LOCKED: two executors never take the same one), with
    their firing and automation."""
    rows = await conn.execute(
        text(
            """
            SELECT a.firing_id, a.index, a.type, a.action, a.attempts, f.event,
                   f.automation_id, au.name AS automation_name
            FROM automation_action a
            JOIN automation_firing f ON f.id = a.firing_id
            JOIN automation au ON au.id = f.automation_id
            WHERE a.status = 'pending'
            ORDER BY a.updated, a.firing_id, a.index
            LIMIT :limit
            FOR UPDATE OF a SKIP LOCKED
            """
        ),
        {"limit": limit},
    )
    return list(rows.mappings())


async def action_set(
    conn: AsyncConnection,
    firing_id: uuid.UUID,
    index: int,
    status: str,
    reason: str | None = None,
    *,
    attempts: int | None = None,
) -> None:
    await conn.execute(
        text(
            """
            UPDATE automation_action
            SET status = :status, reason = :reason, updated = now(),
                attempts = coalesce(:attempts, attempts)
            WHERE firing_id = :firing_id AND index = :index
            """
        ),
        {
            "firing_id": firing_id,
            "index": index,
            "status": status,
            "reason": reason[:2000] if reason else None,
            "attempts": attempts,
        },
    )


async def actions_running(conn: AsyncConnection) -> list[RowMapping]:
    """Webhook calls marked `running`, locked (SKIP LOCKED), with how long ago they were
    taken, by the database's clock."""
    rows = await conn.execute(
        text(
            """
            SELECT a.firing_id, a.index, a.type, a.action, a.attempts, f.automation_id,
                   extract(epoch FROM now() - a.updated) AS running_seconds
            FROM automation_action a
            JOIN automation_firing f ON f.id = a.firing_id
            WHERE a.status = 'running'
            FOR UPDATE OF a SKIP LOCKED
            """
        )
    )
    return list(rows.mappings())


async def firings_recent(
    conn: AsyncConnection, automation_id: uuid.UUID, limit: int
) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            """
            SELECT f.id, f.automation_id, f.fired, f.event,
                   coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'index', a.index, 'type', a.type, 'status', a.status,
                        'reason', a.reason, 'attempts', a.attempts, 'updated', a.updated)
                        ORDER BY a.index)
                    FROM automation_action a WHERE a.firing_id = f.id), '[]'::jsonb) AS actions
            FROM automation_firing f WHERE f.automation_id = :id
            ORDER BY f.fired DESC, f.id LIMIT :limit
            """
        ),
        {"id": automation_id, "limit": limit},
    )
    return list(rows.mappings())


async def last_firings(
    conn: AsyncConnection, automation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each automation last fired (those that did)."""
    rows = await conn.execute(
        text(
            "SELECT automation_id, max(fired) AS fired FROM automation_firing "
            "WHERE automation_id = ANY(:ids) GROUP BY automation_id"
        ),
        {"ids": automation_ids},
    )
    return {r.automation_id: r.fired for r in rows}


async def firings_delete_before(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` firings (and their actions) older than `cutoff`; how many."""
    deleted = await conn.execute(
        text(
            """
            DELETE FROM automation_firing WHERE id IN (
                SELECT id FROM automation_firing WHERE fired < :cutoff LIMIT :limit)
            """
        ),
        {"cutoff": cutoff, "limit": limit},
    )
    return deleted.rowcount
