"""One LISTEN connection per API process, fanned out to in-process subscribers.

Every flow run state change is announced with NOTIFY by the transaction that made it (see
queue/state_tail.py): on the main channel always, on the work pool channel when it may wake a
worker's long poll. Run waiters and the dashboard's SSE streams (main channel) and waiting claims
(work pool channel) subscribe here instead of polling the database. The same connection also
LISTENs on task-run and log ingestion's channel (store/run_activity.py); a subscription receives
only the channels it asks for, the main one by default, so claims are never woken by log traffic.

When the connection drops, it reconnects with backoff and wakes every subscriber with a `None`
event, so that each re-reads the database once and misses nothing that happened while deaf.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

import psycopg

from headrace_service.db import libpq_url

log = logging.getLogger("headrace.notifier")

Event = dict[str, Any] | None  # None: "something may have changed; re-read"
QUEUE_SIZE = 1000


class Subscription:
    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = channels
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)

    def push(self, event: Event) -> None:
        if self.queue.full():
            # A slow reader loses detail, never the wake-up: replace the backlog with a re-read.
            while not self.queue.empty():
                self.queue.get_nowait()
            event = None
        self.queue.put_nowait(event)

    async def next(self, timeout: float) -> tuple[bool, Event]:
        """(True, event) when something arrived within `timeout` seconds, else (False, None)."""
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return False, None


class Notifier:
    def __init__(
        self,
        database_url: str,
        channel: str,
        *,
        extra_channels: Collection[str] = (),
        enabled: bool = True,
    ) -> None:
        self.url = libpq_url(database_url)
        self.channel = channel  # what `subscribe()` delivers unless told otherwise
        self.channels = (channel, *(c for c in extra_channels if c != channel))
        self.enabled = enabled
        self.connected = asyncio.Event()
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._listen_forever(), name="notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    @contextlib.asynccontextmanager
    async def subscribe(self, channels: Collection[str] = ()) -> AsyncIterator[Subscription]:
        """Events of `channels` (default: the main channel) and every re-read (None)."""
        wanted = frozenset(channels or (self.channel,))
        unknown = wanted.difference(self.channels)
        if unknown:
            raise ValueError(f"not listening on {sorted(unknown)}; add them to extra_channels")
        subscription = Subscription(wanted)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def publish(self, event: Event, channel: str | None = None) -> None:
        """Deliver to the subscribers of `channel`; channel None (a re-read) goes to everyone."""
        for subscription in list(self._subscribers):
            if channel is None or channel in subscription.channels:
                subscription.push(event)

    async def kill_connection_for_tests(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    self._conn = conn
                    for channel in self.channels:
                        await conn.execute(f'LISTEN "{channel}"')
                    self.connected.set()
                    delay = 0.1
                    self.publish(None)  # whatever happened while deaf: re-read
                    async for notify in conn.notifies():
                        self.publish(_decode(notify.payload), notify.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away: retry, never die
                log.warning("LISTEN connection lost (%s); reconnecting", error)
            self.connected.clear()
            self._conn = None
            self.publish(None)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _decode(payload: str) -> Event:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
