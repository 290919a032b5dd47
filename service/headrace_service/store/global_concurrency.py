"""Global concurrency limits, their slots and their queues of waiters.

Taking slots is one transaction: lock the named limits (`FOR UPDATE`, in id order, so two
holders of overlapping names cannot deadlock), drop expired slots and waiters, and take
`occupy` slots of each enabled limit only when every one has room *and* nobody queued before
this holder on it: all or nothing, first come first served. A refused holder joins (or keeps
its place in) the queue of each limit. A slot's expiry is a lease renewed while it is held, or,
for `rate_limit`, the time decay gives it back; a holder that dies stops renewing, so its slots
and its place in the queues expire on their own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

# A waiter that has not asked again for this long has left the queue (clients ask at least
# every second while they wait).
WAITER_TTL_SECONDS = 10.0

# Every statement that takes, keeps, renews or gives back slots commits without waiting for its
# WAL to reach the disk (set_config with is_local = SET LOCAL, inside the statement: no round
# trip of its own). A durable commit costs a disk flush, 3-5 ms on a VM disk, more than the rest
# of an acquire; what a database crash can lose here is at most the last ~0.6 s of grants,
# renewals, releases and places in line (three WAL-writer intervals). A lost release or place in
# line costs nothing (the lease expires, the waiter asks again); a lost grant is found by the
# holder's next renewal, which then renews no slot and warns that the limit may be exceeded.
NO_FLUSH = "set_config('synchronous_commit', 'off', true)"

_LIMIT = """
    SELECT l.id, l.name, l."limit", l.active, l.slot_decay_per_second, l.created, l.updated,
        (SELECT coalesce(sum(s.occupy), 0) FROM global_concurrency_slot s
           WHERE s.limit_id = l.id AND s.expires_at > coalesce(:now, now())) AS active_slots,
        (SELECT count(*) FROM global_concurrency_waiter w
           WHERE w.limit_id = l.id AND w.expires_at > coalesce(:now, now())) AS waiting
    FROM global_concurrency_limit l
"""


async def global_limit_create(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Create a limit; False when the name is taken."""
    created = await conn.execute(
        text(
            'INSERT INTO global_concurrency_limit (name, "limit", active, slot_decay_per_second) '
            "VALUES (:name, :limit, :active, :slot_decay_per_second) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        values,
    )
    return bool(created.rowcount)


async def global_limit_list(conn: AsyncConnection, now: datetime | None = None) -> list[RowMapping]:
    rows = await conn.execute(text(_LIMIT + " ORDER BY l.name"), {"now": now})
    return list(rows.mappings())


async def global_limit_get(
    conn: AsyncConnection, name: str, now: datetime | None = None
) -> RowMapping | None:
    rows = await conn.execute(text(_LIMIT + " WHERE l.name = :name"), {"name": name, "now": now})
    return rows.mappings().first()


async def global_limit_update(conn: AsyncConnection, name: str, changes: dict[str, Any]) -> bool:
    """Change the given columns (limit, active, slot_decay_per_second); False when absent."""
    columns = {
        "limit": '"limit"',
        "active": "active",
        "slot_decay_per_second": "slot_decay_per_second",
    }
    sets = ", ".join(f"{columns[key]} = :{key}" for key in changes)
    updated = await conn.execute(
        text(f"UPDATE global_concurrency_limit SET {sets}, updated = now() WHERE name = :name"),
        {**changes, "name": name},
    )
    return bool(updated.rowcount)


async def global_limit_delete(conn: AsyncConnection, name: str) -> bool:
    deleted = await conn.execute(
        text("DELETE FROM global_concurrency_limit WHERE name = :name"), {"name": name}
    )
    return bool(deleted.rowcount)


async def global_slot_list_live(
    conn: AsyncConnection, limit_id: uuid.UUID, now: datetime | None = None
) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            "SELECT holder_id, occupy, expires_at, created FROM global_concurrency_slot "
            "WHERE limit_id = :id AND expires_at > coalesce(:now, now()) ORDER BY created"
        ),
        {"id": limit_id, "now": now},
    )
    return list(rows.mappings())


async def global_waiter_still_behind(
    conn: AsyncConnection,
    names: list[str],
    holder_id: uuid.UUID,
    now: datetime | None = None,
) -> dict[str, int] | None:
    """For a holder already in line: keep its place, and, while someone is still before it on
    a limit, say so without locking anything (the line moves only from its head, so only the
    head needs the locking `global_slot_take`). Returns the limits it waits on with the
    holders before it, or None when it is not in line or is first on every limit."""
    rows = await conn.execute(
        text(
            f"""
            WITH mine AS (
                UPDATE global_concurrency_waiter w
                SET expires_at = coalesce(:now, now()) + make_interval(secs => :ttl)
                FROM global_concurrency_limit l
                WHERE l.id = w.limit_id AND l.name = ANY(:names) AND l.active
                    AND w.holder_id = :holder AND w.expires_at > coalesce(:now, now())
                RETURNING w.limit_id, w.enqueued_at, l.name
            )
            SELECT m.name, {NO_FLUSH} IS NOT NULL AS no_flush, (
                SELECT count(*) FROM global_concurrency_waiter o
                WHERE o.limit_id = m.limit_id AND o.holder_id <> :holder
                    AND o.expires_at > coalesce(:now, now())
                    AND (o.enqueued_at < m.enqueued_at
                         OR (o.enqueued_at = m.enqueued_at AND o.holder_id < :holder))
            ) AS ahead
            FROM mine m
            """
        ),
        {"names": names, "holder": holder_id, "ttl": WAITER_TTL_SECONDS, "now": now},
    )
    # The place kept in line commits without a flush (set in the statement): a place lost in a
    # database crash is harmless, the waiter asks again.
    waiting = {name: int(ahead) for name, _, ahead in rows.all()}
    if not any(waiting.values()):
        return None
    return waiting


async def global_limit_lock(
    conn: AsyncConnection, names: list[str], create_with_limit: int | None
) -> list[RowMapping]:
    """The limits of `names` that exist, locked until the transaction ends; with
    `create_with_limit`, the missing ones are created first with that many slots."""
    if create_with_limit is not None:
        await conn.execute(
            text(
                'INSERT INTO global_concurrency_limit (name, "limit") '
                "SELECT unnest(CAST(:names AS text[])), :limit ON CONFLICT (name) DO NOTHING"
            ),
            {"names": names, "limit": create_with_limit},
        )
    rows = await conn.execute(
        text(
            'SELECT id, name, "limit", active, slot_decay_per_second '
            "FROM global_concurrency_limit WHERE name = ANY(:names) ORDER BY id FOR UPDATE"
        ),
        {"names": names},
    )
    return list(rows.mappings())


@dataclass(frozen=True)
class SlotRequest:
    holder_id: uuid.UUID
    occupy: int
    # Seconds until the slots expire unless renewed (a lease); ignored when `decaying`.
    lease_seconds: float
    # rate_limit: each slot expires when decay gives it back, never renewed or released.
    decaying: bool


# One statement, after `global_limit_lock` (whose lock makes this statement's snapshot see
# every slot committed before): count live slots and earlier waiters, then either take the
# slots and leave the queues, or join (or stay in) the queues. Expired rows of other holders
# are purged on the way; this holder's own are overwritten instead (a row may be changed once
# per statement).
_TAKE = """
WITH used AS (
    SELECT limit_id, sum(occupy) AS n FROM global_concurrency_slot
    WHERE limit_id = ANY(:ids) AND holder_id <> :holder AND expires_at > coalesce(:now, now())
    GROUP BY limit_id
), me AS (
    SELECT limit_id, enqueued_at FROM global_concurrency_waiter
    WHERE limit_id = ANY(:ids) AND holder_id = :holder AND expires_at > coalesce(:now, now())
), ahead AS (
    SELECT w.limit_id, count(*) AS n FROM global_concurrency_waiter w
    LEFT JOIN me ON me.limit_id = w.limit_id
    WHERE w.limit_id = ANY(:ids) AND w.holder_id <> :holder
        AND w.expires_at > coalesce(:now, now())
        AND (me.enqueued_at IS NULL OR w.enqueued_at < me.enqueued_at
             OR (w.enqueued_at = me.enqueued_at AND w.holder_id < :holder))
    GROUP BY w.limit_id
), blocked AS (
    SELECT l.name, coalesce(ahead.n, 0) AS ahead FROM global_concurrency_limit l
    LEFT JOIN used ON used.limit_id = l.id LEFT JOIN ahead ON ahead.limit_id = l.id
    WHERE l.id = ANY(:ids)
        AND (coalesce(used.n, 0) + :occupy > l."limit" OR coalesce(ahead.n, 0) > 0)
), taken AS (
    INSERT INTO global_concurrency_slot (limit_id, holder_id, occupy, expires_at, decaying)
    SELECT l.id, :holder, :occupy, {expiry}, :decaying
    FROM global_concurrency_limit l
    WHERE l.id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM blocked)
    ON CONFLICT (limit_id, holder_id)
        DO UPDATE SET expires_at = EXCLUDED.expires_at, occupy = EXCLUDED.occupy
    RETURNING 1
), queued AS (
    INSERT INTO global_concurrency_waiter (limit_id, holder_id, occupy, enqueued_at, expires_at)
    SELECT id, :holder, :occupy, clock_timestamp(),
        coalesce(:now, now()) + make_interval(secs => :ttl)
    FROM unnest(CAST(:ids AS uuid[])) AS id
    WHERE EXISTS (SELECT 1 FROM blocked)
    ON CONFLICT (limit_id, holder_id) DO UPDATE SET
        expires_at = EXCLUDED.expires_at, occupy = EXCLUDED.occupy,
        -- an expired place in line is lost: back to the end
        enqueued_at = CASE WHEN global_concurrency_waiter.expires_at > coalesce(:now, now())
            THEN global_concurrency_waiter.enqueued_at ELSE EXCLUDED.enqueued_at END
    RETURNING 1
), left_queues AS (
    DELETE FROM global_concurrency_waiter
    WHERE limit_id = ANY(:ids) AND holder_id = :holder AND NOT EXISTS (SELECT 1 FROM blocked)
    RETURNING 1
), purged_slots AS (
    DELETE FROM global_concurrency_slot
    WHERE limit_id = ANY(:ids) AND holder_id <> :holder AND expires_at <= coalesce(:now, now())
    RETURNING 1
), purged_waiters AS (
    DELETE FROM global_concurrency_waiter
    WHERE limit_id = ANY(:ids) AND holder_id <> :holder AND expires_at <= coalesce(:now, now())
    RETURNING 1
)
SELECT blocked.name, blocked.ahead
FROM (SELECT {no_flush}) AS no_flush LEFT JOIN blocked ON true
ORDER BY blocked.name
"""
# A lease; or, for rate_limit, decay frees one slot every 1/decay seconds after those taken
# before.
_LEASE_EXPIRY = "coalesce(:now, now()) + make_interval(secs => :lease)"
_DECAY_EXPIRY = (
    "greatest(coalesce(:now, now()), (SELECT max(s.expires_at) FROM global_concurrency_slot s "
    "WHERE s.limit_id = l.id AND s.decaying)) "
    "+ make_interval(secs => :occupy / l.slot_decay_per_second)"
)


async def global_slot_take(
    conn: AsyncConnection,
    limits: list[RowMapping],
    request: SlotRequest,
    now: datetime | None = None,
) -> dict[str, int]:
    """Take the slots on `limits` (locked by `global_limit_lock`, all enabled) or queue for
    them. Returns the limits that refused, each with the number of holders waiting before
    this one (empty: taken)."""
    statement = _TAKE.format(
        expiry=_DECAY_EXPIRY if request.decaying else _LEASE_EXPIRY, no_flush=NO_FLUSH
    )
    rows = await conn.execute(
        text(statement),
        {
            "ids": [row["id"] for row in limits],
            "holder": request.holder_id,
            "occupy": request.occupy,
            "lease": request.lease_seconds,
            "decaying": request.decaying,
            "ttl": WAITER_TTL_SECONDS,
            "now": now,
        },
    )
    return {name: int(ahead) for name, ahead in rows.all() if name is not None}


async def global_slot_renew(
    conn: AsyncConnection, holder_id: uuid.UUID, lease_seconds: float, now: datetime | None = None
) -> int:
    """Extend the leases of the holder's live slots (an expired slot may be someone's now)."""
    renewed = await conn.execute(
        text(
            "WITH renewed AS (UPDATE global_concurrency_slot SET expires_at = "
            "coalesce(:now, now()) + make_interval(secs => :lease) "
            "WHERE holder_id = :holder AND NOT decaying AND expires_at > coalesce(:now, now()) "
            f"RETURNING 1) SELECT (SELECT count(*) FROM renewed), {NO_FLUSH}"
        ),
        {"holder": holder_id, "lease": lease_seconds, "now": now},
    )
    return int(renewed.scalar_one())


async def global_slot_release(conn: AsyncConnection, holder_id: uuid.UUID) -> int:
    """Give back the holder's leased slots and leave every queue it waits in: one statement."""
    released = await conn.execute(
        text(
            "WITH left_queues AS (DELETE FROM global_concurrency_waiter "
            "WHERE holder_id = :holder RETURNING 1), "
            "released AS (DELETE FROM global_concurrency_slot "
            "WHERE holder_id = :holder AND NOT decaying RETURNING 1) "
            f"SELECT (SELECT count(*) FROM released), {NO_FLUSH}"
        ),
        {"holder": holder_id},
    )
    return int(released.scalar_one())
