"""The lease reaper: runs whose worker stopped heartbeating become Crashed (or AwaitingRetry).

One pass settles every expired lease in batches. Any number of API replicas run this loop; a
transaction-level advisory lock taken with `pg_try_advisory_xact_lock` lets one of them do a
pass while the others skip it, and a replica that dies mid-pass simply releases the lock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import text

from headrace_service import queue
from headrace_service.db import Database
from headrace_service.metrics import count_reaper_action

log = logging.getLogger("headrace.reaper")

# Fixed advisory-lock key of the reaper (every loop has its own).
REAPER_LOCK_KEY = 7_142_101
DEFAULT_INTERVAL_SECONDS = 5.0


async def run_once(db: Database, now: datetime | None = None) -> list[queue.Rescued]:
    """Settle the runs whose lease expired before `now`; [] when another replica is at it."""
    rescued: list[queue.Rescued] = []
    while True:
        async with db.begin() as conn:
            leader = (
                await conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": REAPER_LOCK_KEY}
                )
            ).scalar_one()
            if not leader:
                return rescued
            batch = await queue.flow_run_rescue_expired(conn, now)
        rescued.extend(batch)
        if len(batch) < queue.RESCUE_BATCH:
            break
    for run in rescued:
        log.info("lease of flow run %s expired: %s (%s)", run.id, run.state_name, run.outcome)
        count_reaper_action(run.outcome)
    return rescued
