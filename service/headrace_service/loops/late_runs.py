"""The late-run marker: a waiting run not claimed soon after its start time is renamed Late.

The run stays SCHEDULED (any worker of its pool still claims it); the new name and a history
row make "no worker took this in time" visible in the API, the CLI and the dashboard. One
replica marks per pass (transaction-level advisory lock), in batches.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from headrace_service import queue
from headrace_service.db import Database
from headrace_service.loops.batches import locked_batches

log = logging.getLogger("headrace.late_runs")

LATE_RUNS_LOCK_KEY = 7_142_103
DEFAULT_LATE_AFTER_SECONDS = 15.0


async def run_once(
    db: Database,
    now: datetime | None = None,
    *,
    late_after_seconds: float = DEFAULT_LATE_AFTER_SECONDS,
) -> int:
    """Mark the runs late at `now`; how many (0 when another replica is at it)."""
    now = now or datetime.now(UTC)
    marked = await locked_batches(
        db,
        LATE_RUNS_LOCK_KEY,
        lambda conn: queue.flow_run_mark_late(conn, late_after_seconds=late_after_seconds, now=now),
        queue.LATE_BATCH,
    )
    if marked:
        log.info(
            "%d waiting runs are late (not claimed %gs after their start)",
            marked,
            late_after_seconds,
        )
    return marked
