"""The evaluator: reads new events in arrival order and turns the triggers they complete into
firings (each with its actions, pending), in one transaction per pass.

One replica evaluates at a time (a transaction-level advisory lock). The cursor, the buckets
and the firings change in the same transaction, so a pass that dies changes nothing; a firing's
idempotency key is unique, so no trigger fires twice for the same event or window.

Events can commit out of `seq` order (two concurrent inserts, a slow transaction), and a seq
whose insert rolled back never appears. An event above such a gap is evaluated at once and
remembered (`done`); the cursor passes the gap only when no transaction that could still fill it
is running. The transaction that took a seq had its id before (a statement trigger on `event`,
migration 0020), and that was before the later event was read; so it is older than the id this
pass takes after reading (the gap's horizon), and once the oldest running transaction is not
older than the horizon, it has ended: committed (its event is read in that pass) or rolled back.
A slow transaction is waited for, however long; events above it are evaluated meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.automations import CompoundTrigger, EventTrigger, SequenceTrigger, Trigger
from headrace.schemas.events import RESOURCE_ID, RESOURCE_NAME, RESOURCE_ROLE
from headrace_service.automations.composite import CompositeState, composite_step, part_prefix
from headrace_service.automations.triggers import (
    Bucket,
    EventView,
    bucket_key,
    event_context,
    event_matches,
    proactive_due,
    step,
)
from headrace_service.db import Database
from headrace_service.store import automations as store
from headrace_service.store.events import event_record

log = logging.getLogger("headrace.automations")

EVALUATOR_LOCK_KEY = 7_142_201
BATCH = 500
TRIGGERED = "headrace.automation.triggered"
# The bucket of a compound or sequence trigger that remembers which of its triggers fired, when.
COMPOUND_KEY = "compound"
_TRIGGER = TypeAdapter[EventTrigger | CompoundTrigger | SequenceTrigger](Trigger)


@dataclass(frozen=True)
class Loaded:
    id: uuid.UUID
    name: str
    trigger: EventTrigger | CompoundTrigger | SequenceTrigger
    actions: list[dict[str, Any]]

    def parts(self) -> list[tuple[str, EventTrigger]]:
        """Its event triggers, each with the prefix of its buckets' keys."""
        if isinstance(self.trigger, EventTrigger):
            return [("", self.trigger)]
        return [(part_prefix(i), t) for i, t in enumerate(self.trigger.triggers)]


def automation_labels(automation_id: uuid.UUID, name: str) -> dict[str, str]:
    return {RESOURCE_ID: f"headrace.automation.{automation_id}", RESOURCE_NAME: name}


def _load(row: RowMapping) -> Loaded | None:
    try:
        trigger = _TRIGGER.validate_python(row["trigger"])
    except ValidationError:
        log.warning("automation %s has a trigger this server cannot read; skipped", row["name"])
        return None
    return Loaded(row["id"], row["name"], trigger, list(row["actions"]))


def _view(row: RowMapping) -> EventView:
    return EventView(
        seq=row["seq"],
        id=str(row["id"]),
        event=row["event"],
        occurred=row["occurred"],
        resource=row["resource"],
        related=row["related"],
        payload=row["payload"],
    )


def _own_event(automation: Loaded, event: EventView) -> bool:
    """An automation never reacts to the events of its own firings (no loops)."""
    return (
        event.event.startswith("headrace.automation.")
        and event.resource.get(RESOURCE_ID) == f"headrace.automation.{automation.id}"
    )


async def fire(
    conn: AsyncConnection, automation: Loaded, key: str, event: dict[str, Any] | None
) -> bool:
    """Record the firing, its pending actions and its event; False if `key` already fired."""
    firing_id = await store.firing_insert(
        conn, automation.id, f"{automation.id}:{key}", event, automation.actions
    )
    if firing_id is None:
        return False
    related = [{RESOURCE_ID: f"headrace.automation-firing.{firing_id}", RESOURCE_ROLE: "firing"}]
    if event is not None and event.get("resource", {}).get(RESOURCE_ID):
        related.append({**event["resource"], RESOURCE_ROLE: "triggering-resource"})
    payload: dict[str, Any] = {"firing_id": str(firing_id)}
    if event is not None:
        payload["triggering_event"] = {"id": event["id"], "event": event["event"]}
    await event_record(
        conn,
        TRIGGERED,
        automation_labels(automation.id, automation.name),
        related=related,
        payload=payload,
    )
    log.info("automation %r fired (%s)", automation.name, key)
    return True


class _Buckets:
    """The buckets of the enabled automations, read once per pass, written back at its end."""

    def __init__(self, rows: list[RowMapping]) -> None:
        self.values: dict[tuple[uuid.UUID, str], Bucket | None] = {
            (r["automation_id"], r["key"]): Bucket(r["key"], r["opened"], r["count"], r["opener"])
            for r in rows
        }
        self.changed: set[tuple[uuid.UUID, str]] = set()

    def get(self, automation_id: uuid.UUID, key: str) -> Bucket | None:
        return self.values.get((automation_id, key))

    def set(self, automation_id: uuid.UUID, key: str, bucket: Bucket | None) -> None:
        if self.values.get((automation_id, key)) != bucket:
            self.values[(automation_id, key)] = bucket
            self.changed.add((automation_id, key))

    def of(self, automation_id: uuid.UUID, prefix: str) -> list[tuple[str, Bucket]]:
        return [
            (k, b)
            for (a, k), b in list(self.values.items())
            if a == automation_id and b is not None and k.startswith(prefix) and k != COMPOUND_KEY
        ]

    async def save(self, conn: AsyncConnection) -> None:
        for automation_id, key in sorted(self.changed, key=str):
            bucket = self.values[(automation_id, key)]
            if bucket is None:
                await store.bucket_delete(conn, automation_id, key)
            else:
                await store.bucket_put(
                    conn, automation_id, key, bucket.opened, bucket.count, bucket.opener
                )


def advance(last: int, done: set[int], settled: set[int]) -> int:
    """The new cursor: past every evaluated event and every gap that can no longer fill."""
    while last + 1 in done or last + 1 in settled:
        last += 1
    return last


def gaps_seen(cursor: store.Cursor, read: list[int]) -> set[int]:
    """The seqs below the newest one read that neither this read nor an earlier pass saw."""
    if not read:
        return set()
    return set(range(cursor.last + 1, max(read))) - cursor.done - set(read)


async def run_once(db: Database, now: datetime | None = None) -> int:
    """One pass: evaluate a batch of new events and the proactive windows that ended; how many
    firings it made (0 when another replica holds the evaluator's lock)."""
    now = now or datetime.now(UTC)
    async with db.begin() as conn:
        locked = await conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": EVALUATOR_LOCK_KEY}
        )
        if not locked.scalar_one():
            return 0
        # Nothing before the read may write: this transaction must get its id after it.
        cursor = await store.cursor_read(conn)
        if cursor is None:
            return 0
        automations = [a for a in map(_load, await store.automations_enabled(conn)) if a]
        if not automations:
            # Nothing to evaluate: skip to the newest event without reading any.
            newest = await store.newest_seq(conn, cursor.last)
            await store.cursor_save(conn, store.Cursor(newest, set(), {}))
            return 0
        # Taken before the read: a transaction older than this that committed is read now.
        oldest_running = await store.oldest_running_xact(conn)
        rows = await store.events_from(conn, cursor.last, cursor.done, BATCH)
        gaps = gaps_seen(cursor, [r["seq"] for r in rows])
        if gaps - cursor.gaps.keys():
            horizon = await store.own_xact(conn)
            cursor.gaps.update({seq: horizon for seq in gaps - cursor.gaps.keys()})
        fired = await _evaluate(conn, automations, rows, now)
        for row in rows:
            cursor.done.add(row["seq"])
            cursor.gaps.pop(row["seq"], None)  # a gap that filled: its transaction committed
        # A gap whose transaction ended before the read is settled: its event, had it committed,
        # was read, unless the read stopped at the batch's end below it.
        below = rows[-1]["seq"] if len(rows) == BATCH else None
        settled = {
            seq
            for seq, horizon in cursor.gaps.items()
            if horizon <= oldest_running and (below is None or seq < below)
        }
        cursor.last = advance(cursor.last, cursor.done, settled)
        await store.cursor_save(conn, cursor)
    return fired


async def _evaluate(
    conn: AsyncConnection, automations: list[Loaded], rows: list[RowMapping], now: datetime
) -> int:
    """Apply the events to the triggers, then end the proactive windows that are over."""
    buckets = _Buckets(await store.buckets_of(conn, [a.id for a in automations]))
    fired = 0
    for row in rows:
        event = _view(row)
        for automation in automations:
            if _own_event(automation, event):
                continue
            for prefix, trigger in automation.parts():
                if not event_matches(trigger, event):
                    continue
                key = prefix + bucket_key(trigger, event)
                result = step(trigger, buckets.get(automation.id, key), event)
                buckets.set(automation.id, key, result.bucket)
                if result.fired:
                    fired += await _part_fired(
                        conn,
                        automation,
                        buckets,
                        prefix,
                        f"event:{event.id}",
                        event_context(event),
                        event.occurred,
                    )
    fired += await _sweep_proactive(conn, automations, buckets, now)
    await buckets.save(conn)
    return fired


async def _part_fired(
    conn: AsyncConnection,
    automation: Loaded,
    buckets: _Buckets,
    prefix: str,
    key: str,
    event: dict[str, Any] | None,
    at: datetime,
) -> int:
    """An event trigger fired: the automation fires, or, for a compound or sequence trigger,
    once its triggers fired as it requires (automations/composite.py)."""
    trigger = automation.trigger
    if isinstance(trigger, EventTrigger):
        return int(await fire(conn, automation, key, event))
    stored = buckets.get(automation.id, COMPOUND_KEY)
    state = CompositeState.load(stored.opener if stored else None)
    following, ready = composite_step(trigger, state, prefix, at, key)
    if following is None:
        buckets.set(automation.id, COMPOUND_KEY, None)
    else:
        kept = Bucket(COMPOUND_KEY, following.opened(), len(following.fired), following.dump())
        buckets.set(automation.id, COMPOUND_KEY, kept)
    if not ready:
        return 0
    return int(await fire(conn, automation, f"{trigger.type}:{key}", event))


async def _sweep_proactive(
    conn: AsyncConnection, automations: list[Loaded], buckets: _Buckets, now: datetime
) -> int:
    """Fire the proactive windows that ended short of their threshold. Without `after`, a
    window is always open: the next starts when one ends."""
    fired = 0
    for automation in automations:
        for prefix, trigger in automation.parts():
            if trigger.posture != "Proactive":
                _forget_expired(automation, buckets, prefix, trigger, now)
                continue
            if not trigger.after and buckets.get(automation.id, prefix) is None:
                buckets.set(automation.id, prefix, Bucket(prefix, now))
            for key, bucket in buckets.of(automation.id, prefix):
                if not proactive_due(trigger, bucket, now):
                    continue
                window = f"window:{key}:{bucket.opened.isoformat()}"
                fired += await _part_fired(
                    conn, automation, buckets, prefix, window, bucket.opener, now
                )
                following = Bucket(prefix, now) if not trigger.after else None
                buckets.set(automation.id, key, following)
    return fired


def _forget_expired(
    automation: Loaded, buckets: _Buckets, prefix: str, trigger: EventTrigger, now: datetime
) -> None:
    """A reactive count whose window is over can no longer fire: drop it (one per `for_each`
    value would otherwise pile up)."""
    if trigger.within <= 0:
        return
    horizon = now - timedelta(seconds=trigger.within)
    for key, bucket in buckets.of(automation.id, prefix):
        if bucket.opened < horizon:
            buckets.set(automation.id, key, None)
