"""Event relay: flow run state changes waiting in the outbox become events; workers that
stopped heartbeating become `headrace.worker.offline` events.

Each pass relays batches until the outbox is empty (or `max_batches`), one short transaction per
batch; rows are taken with SKIP LOCKED, so replicas relaying at once share the work instead of
waiting on each other.
"""

from __future__ import annotations

from datetime import datetime

from headrace_service import queue
from headrace_service.db import Database
from headrace_service.store.worker_events import record_workers_offline

BATCH = 1000
MAX_BATCHES = 50


async def run_once(
    db: Database, now: datetime | None = None, *, heartbeat_seconds: float = 10.0
) -> int:
    """Relay what waits in the outbox; how many state changes became events. Also records the
    workers that went offline since (store/worker_events.py)."""
    async with db.begin() as conn:
        await record_workers_offline(conn, heartbeat_seconds)
    relayed = 0
    for _ in range(MAX_BATCHES):
        async with db.begin() as conn:
            taken = await queue.relay_outbox(conn, BATCH)
        relayed += taken
        if taken < BATCH:
            break
    return relayed
