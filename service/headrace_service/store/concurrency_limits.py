"""Tag concurrency limits and their slots.

A slot is a row (limit, holder) with a lease. Acquisition locks the limit rows (`FOR UPDATE`, in
id order so two acquirers of overlapping tags cannot deadlock), drops expired slots, counts the
live ones and inserts the new slots only if every limit has room: all or nothing, atomic. A
holder that dies stops renewing; its slots expire and are deleted by the next acquisition.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

_LIMIT_WITH_ACTIVE = """
    SELECT l.id, l.tag, l."limit", l.created,
        (SELECT count(*) FROM concurrency_slot s WHERE s.concurrency_limit_id = l.id
           AND s.lease_expires_at > coalesce(:now, now())) AS active_slots
    FROM concurrency_limit l
"""


async def concurrency_limit_upsert(conn: AsyncConnection, tag: str, limit: int) -> None:
    """Create the limit of `tag`, or change it."""
    await conn.execute(
        text(
            'INSERT INTO concurrency_limit (tag, "limit") VALUES (:tag, :limit) '
            'ON CONFLICT (tag) DO UPDATE SET "limit" = EXCLUDED."limit"'
        ),
        {"tag": tag, "limit": limit},
    )


async def concurrency_limit_list(
    conn: AsyncConnection, now: datetime | None = None
) -> list[RowMapping]:
    rows = await conn.execute(text(_LIMIT_WITH_ACTIVE + " ORDER BY l.tag"), {"now": now})
    return list(rows.mappings())


async def concurrency_limit_get(
    conn: AsyncConnection, tag: str, now: datetime | None = None
) -> RowMapping | None:
    rows = await conn.execute(
        text(_LIMIT_WITH_ACTIVE + " WHERE l.tag = :tag"), {"tag": tag, "now": now}
    )
    return rows.mappings().first()


async def concurrency_limit_delete(conn: AsyncConnection, tag: str) -> bool:
    deleted = await conn.execute(
        text("DELETE FROM concurrency_limit WHERE tag = :tag"), {"tag": tag}
    )
    return bool(deleted.rowcount)


async def concurrency_slot_list_live(
    conn: AsyncConnection, limit_id: uuid.UUID, now: datetime | None = None
) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            "SELECT holder_id, lease_expires_at, created FROM concurrency_slot "
            "WHERE concurrency_limit_id = :id AND lease_expires_at > coalesce(:now, now()) "
            "ORDER BY created"
        ),
        {"id": limit_id, "now": now},
    )
    return list(rows.mappings())


async def concurrency_slot_reset(conn: AsyncConnection, limit_id: uuid.UUID) -> int:
    """Free every slot of a limit (their holders' runs go on; only the count is reset)."""
    deleted = await conn.execute(
        text("DELETE FROM concurrency_slot WHERE concurrency_limit_id = :id"), {"id": limit_id}
    )
    return int(deleted.rowcount)


async def concurrency_slot_acquire(
    conn: AsyncConnection,
    tags: list[str],
    holder_id: uuid.UUID,
    lease_seconds: float,
    now: datetime | None = None,
) -> list[str]:
    """Take one slot of each limited tag for `holder_id`, all or none. Returns the tags whose
    limit is full (empty: acquired). Tags without a limit need no slot. Re-acquiring what the
    holder has renews its lease."""
    limits = list(
        (
            await conn.execute(
                text(
                    'SELECT id, tag, "limit" FROM concurrency_limit WHERE tag = ANY(:tags) '
                    "ORDER BY id FOR UPDATE"
                ),
                {"tags": tags},
            )
        ).mappings()
    )
    if not limits:
        return []
    ids = [row["id"] for row in limits]
    await conn.execute(
        text(
            "DELETE FROM concurrency_slot WHERE concurrency_limit_id = ANY(:ids) "
            "AND lease_expires_at <= coalesce(:now, now())"
        ),
        {"ids": ids, "now": now},
    )
    rows = await conn.execute(
        text(
            "SELECT concurrency_limit_id, count(*) FROM concurrency_slot "
            "WHERE concurrency_limit_id = ANY(:ids) AND holder_id <> :holder "
            "GROUP BY concurrency_limit_id"
        ),
        {"ids": ids, "holder": holder_id},
    )
    counts = {limit_id: count for limit_id, count in rows}
    blocked = [row["tag"] for row in limits if counts.get(row["id"], 0) >= row["limit"]]
    if blocked:
        return blocked
    await conn.execute(
        text(
            """
            INSERT INTO concurrency_slot (concurrency_limit_id, holder_id, lease_expires_at)
            SELECT id, :holder, coalesce(:now, now()) + make_interval(secs => :lease)
            FROM unnest(CAST(:ids AS uuid[])) AS id
            ON CONFLICT (concurrency_limit_id, holder_id)
                DO UPDATE SET lease_expires_at = EXCLUDED.lease_expires_at
            """
        ),
        {"ids": ids, "holder": holder_id, "lease": lease_seconds, "now": now},
    )
    return []


async def concurrency_slot_renew(
    conn: AsyncConnection, holder_id: uuid.UUID, lease_seconds: float, now: datetime | None = None
) -> int:
    """Extend the leases of the holder's live slots (an expired slot may be someone's now)."""
    renewed = await conn.execute(
        text(
            "UPDATE concurrency_slot SET lease_expires_at = "
            "coalesce(:now, now()) + make_interval(secs => :lease) "
            "WHERE holder_id = :holder AND lease_expires_at > coalesce(:now, now())"
        ),
        {"holder": holder_id, "lease": lease_seconds, "now": now},
    )
    return int(renewed.rowcount)


async def concurrency_slot_release(conn: AsyncConnection, holder_id: uuid.UUID) -> int:
    released = await conn.execute(
        text("DELETE FROM concurrency_slot WHERE holder_id = :holder"), {"holder": holder_id}
    )
    return int(released.rowcount)
