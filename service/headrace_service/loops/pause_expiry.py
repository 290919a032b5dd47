"""The pause expiry: a Suspended run not resumed within its timeout ends Failed (no process
waits on it to do so), as does a Paused run whose waiting process is gone. One replica per
pass (transaction-level advisory lock), in batches."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from headrace_service import queue
from headrace_service.db import Database
from headrace_service.loops.batches import locked_batches

log = logging.getLogger("headrace.pause_expiry")

PAUSE_EXPIRY_LOCK_KEY = 7_142_107
# A Paused run's process fails it at its timeout by itself; this is how long it gets to.
DEFAULT_PAUSED_GRACE_SECONDS = 30.0


async def run_once(
    db: Database,
    now: datetime | None = None,
    *,
    grace_seconds: float = DEFAULT_PAUSED_GRACE_SECONDS,
) -> int:
    """Fail the runs whose pause timed out at `now`; how many (0 when another replica is at it)."""
    now = now or datetime.now(UTC)
    failed = await locked_batches(
        db,
        PAUSE_EXPIRY_LOCK_KEY,
        lambda conn: queue.flow_run_fail_expired_pauses(conn, grace_seconds=grace_seconds, now=now),
        queue.PAUSE_EXPIRY_BATCH,
    )
    if failed:
        log.info("%d paused runs were not resumed in time: Failed", failed)
    return failed
