"""The events a process has yet to send, sent in batches by one daemon thread.

`emit_event` must never block nor break the flow that calls it, so the queue is bounded
(`MAX_WAITING` events): when the API is away long enough to fill it, new events are dropped and
counted, and the count goes to stderr. A batch the API cannot take now (unreachable) is kept and
tried again; a batch it refuses (4xx) is dropped with a line on stderr. What is still queued at
exit is sent then, within `EXIT_FLUSH_SECONDS`.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from headrace.schemas.events import EventBatch, EventCreate

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

MAX_WAITING = 100_000
BATCH = 1000
INTERVAL_SECONDS = 0.25
EXIT_FLUSH_SECONDS = 10.0
RETRY_SECONDS = 1.0


class EventQueue:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._waiting: deque[tuple[HeadraceClient, EventCreate]] = deque()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def put(self, client: HeadraceClient, event: EventCreate) -> None:
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    _tell_stderr(
                        f"{self.dropped} events dropped: the queue of {MAX_WAITING} "
                        "events waiting for the API was full"
                    )
                return
            self._waiting.append((client, event))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="headrace-events", daemon=True
                )
                self._thread.start()
                atexit.register(self._flush_at_exit)
            if len(self._waiting) >= BATCH:
                self._lock.notify_all()

    def flush(self, timeout: float = EXIT_FLUSH_SECONDS) -> bool:
        """Wait until every queued event was sent (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._lock.notify_all()
            while self._waiting or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def _flush_at_exit(self) -> None:
        if not self.flush(EXIT_FLUSH_SECONDS):
            with self._lock:
                unsent = len(self._waiting) + self._in_flight
            _tell_stderr(
                f"{unsent} events were not sent: the headrace API did not take them within "
                f"{EXIT_FLUSH_SECONDS:g} s of the process exiting"
            )

    def _take(self) -> tuple[HeadraceClient, list[EventCreate]] | None:
        """The next batch: events of one client (one API) in the order they were emitted."""
        with self._lock:
            if not self._waiting:
                self._lock.wait(INTERVAL_SECONDS)
            if not self._waiting:
                return None
            client = self._waiting[0][0]
            batch: list[EventCreate] = []
            while self._waiting and len(batch) < BATCH and self._waiting[0][0] is client:
                batch.append(self._waiting.popleft()[1])
            self._in_flight = len(batch)
            return client, batch

    def _run(self) -> None:
        from headrace.client import events as api
        from headrace.errors import ApiUnreachable, HeadraceError

        while True:
            taken = self._take()
            if taken is None:
                continue
            client, batch = taken
            try:
                api.write(client, EventBatch(events=batch))
            except ApiUnreachable:
                with self._lock:  # kept, in order, for the next try
                    self._waiting.extendleft((client, e) for e in reversed(batch))
                    self._in_flight = 0
                time.sleep(RETRY_SECONDS)
                continue
            except HeadraceError as error:
                _tell_stderr(f"{len(batch)} events refused by the API: {error}")
            except Exception as error:  # never let the sender thread die silently
                _tell_stderr(f"{len(batch)} events could not be sent: {error!r}")
            with self._lock:
                self._in_flight = 0
                self._lock.notify_all()


def _tell_stderr(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"headrace: {text}", file=sys.stderr, flush=True)


QUEUE = EventQueue()
