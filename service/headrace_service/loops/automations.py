"""The automations loop: wakes on every stored event (NOTIFY) or each tick, evaluates the new
events (one replica at a time, see automations/evaluator.py), then does the pending actions.

Not an APScheduler job: an event must reach its action within a second, so this loop waits on
the event channel instead of an interval. The tick catches proactive windows that end with no
event, and wakes the loop when LISTEN is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from headrace_service.automations import evaluator
from headrace_service.automations.executor import Executor
from headrace_service.db import Database
from headrace_service.metrics import loop_succeeded
from headrace_service.notifier import Notifier
from headrace_service.store import automations as store
from headrace_service.store.events import EVENT_CHANNEL

log = logging.getLogger("headrace.automations")

TICK_SECONDS = 1.0
# Each how many passes the upkeep runs: calls left running by a stopped server are made again,
# firings older than the events' retention are deleted.
UPKEEP_EVERY = 60
UPKEEP_BATCH = 1000


class AutomationLoop:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        lease_seconds: float,
        *,
        retention_days: int | None = None,
        tick: float = TICK_SECONDS,
    ) -> None:
        self.db = db
        self.retention_days = retention_days
        self.notifier = notifier
        self.tick = tick
        self.executor = Executor(db, lease_seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="automations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.executor.close()

    async def run_once(self) -> None:
        await evaluator.run_once(self.db)
        await self.executor.run_once()

    async def upkeep(self, now: datetime | None = None) -> int:
        """Call interrupted webhooks again; delete old firings; how many firings went."""
        await self.executor.retry_interrupted()
        if self.retention_days is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        async with self.db.begin() as conn:
            return await store.firings_delete_before(conn, cutoff, UPKEEP_BATCH)

    async def _run(self) -> None:
        passes = 0
        async with self.notifier.subscribe([EVENT_CHANNEL]) as events:
            while True:
                try:
                    await self.run_once()
                    if passes % UPKEEP_EVERY == 0:
                        await self.upkeep()
                    loop_succeeded("automations")
                except asyncio.CancelledError:
                    raise
                except Exception:  # logged; the next wake-up tries again
                    log.exception("automations loop failed; retrying")
                passes += 1
                await events.next(self.tick)
