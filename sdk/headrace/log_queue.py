"""The log lines a process has yet to send: bounded, measured in bytes, with back-pressure.

A process that logs faster than the API stores must not lose lines silently, so:

- batches are cut by their size as JSON, under the API's request body cap (`MAX_BODY_BYTES`),
  and a batch the API refuses anyway (a server with a smaller cap) is split, by the reporter;
- when the queue is full, the thread that logs waits (up to `block_seconds`) for the reporter
  to make room: a fast logger is slowed to the pace of the API instead of losing lines;
- when the API is away for longer than that, waiting would stall the flow for nothing: the lines
  that do not fit are dropped, counted per run and reason, without waiting, until a batch is
  sent again. The count then reaches the run's logs (a WARNING line) and stderr.

The queue has no lock of its own: the reporter's lock guards it (its methods say so).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from headrace.schemas.limits import MAX_BODY_BYTES

DEFAULT_MAX_LINES = 50_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_BLOCK_SECONDS = 10.0
# Half the body cap: the size estimate ignores JSON escapes, which at worst double plain text.
BATCH_BYTES = MAX_BODY_BYTES // 2
# The API's count cap (schemas.logs.MAX_LOG_BATCH), a bound as well.
BATCH_LINES = 5000
# A batch of one line is sent whatever its size: a smaller cap is learnt from 413s down to this.
MIN_BATCH_BYTES = 4096
# The JSON of one line besides its name and message: keys, two UUIDs, level, timestamp.
LINE_OVERHEAD_BYTES = 200

DROPPED_LOGGER = "headrace.reporter"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of a run (the fields of the API's `LogCreate`), kept until it is sent."""

    flow_run_id: uuid.UUID
    task_run_id: uuid.UUID | None
    level: int
    name: str
    message: str
    timestamp: datetime


def line_bytes(line: LogLine) -> int:
    """About the size of the line in a request body (exact for ASCII text without escapes)."""
    message = line.message
    size = len(message) if message.isascii() else len(message.encode("utf-8", "replace"))
    return size + len(line.name) + LINE_OVERHEAD_BYTES


class LogQueue:
    """Lines waiting to be sent, with what was dropped, per run and reason."""

    def __init__(
        self,
        lock: threading.Lock,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
    ) -> None:
        self._room = threading.Condition(lock)
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._block_seconds = block_seconds
        self._waiting: deque[tuple[LogLine, int]] = deque()
        # Lines queued or in flight (room is made when they are sent, not when taken).
        self._lines = 0
        self._bytes = 0
        self.batch_bytes = BATCH_BYTES
        # Set when a wait for room timed out: no further wait until a batch is sent.
        self._not_waiting_because: str | None = None
        self.api_error: str | None = None
        self._dropped: dict[tuple[uuid.UUID, str], int] = {}
        self.dropped_total = 0
        self.batches_sent = 0

    # -- with the reporter's lock held --------------------------------------------------------

    def put(self, line: LogLine, *, may_wait: bool) -> None:
        """Queue a line; when full, wait for room (if `may_wait`), else drop it, counted."""
        size = line_bytes(line)
        waits = may_wait and self._not_waiting_because is None
        if waits and not self._room.wait_for(lambda: self._fits(size), self._block_seconds):
            self._not_waiting_because = self._why_full()
            _tell_stderr(f"log lines are being dropped: {self._not_waiting_because}")
        if self._fits(size):
            self._waiting.append((line, size))
            self._lines += 1
            self._bytes += size
        else:
            self.drop(line.flow_run_id, self._not_waiting_because or self._why_full())

    def take(self) -> list[tuple[LogLine, int]]:
        """The next batch: at most `batch_bytes` (one line whatever its size) and BATCH_LINES."""
        batch: list[tuple[LogLine, int]] = []
        total = 0
        while self._waiting and len(batch) < BATCH_LINES:
            size = self._waiting[0][1]
            if batch and total + size > self.batch_bytes:
                break
            batch.append(self._waiting.popleft())
            total += size
        return batch

    def give_back(self, batch: list[tuple[LogLine, int]]) -> None:
        """Lines of a batch that could not be sent go back to the head of the queue."""
        self._waiting.extendleft(reversed(batch))

    def sent(self, batch: list[tuple[LogLine, int]]) -> None:
        """Lines that left (stored, or dropped as refused): room for more, waiting resumes."""
        self._lines -= len(batch)
        self._bytes -= sum(size for _line, size in batch)
        self.batches_sent += 1
        self._not_waiting_because = None
        self.api_error = None
        self._room.notify_all()
        self._queue_notices()

    def drop(self, flow_run_id: uuid.UUID, reason: str, count: int = 1) -> None:
        key = (flow_run_id, reason)
        self._dropped[key] = self._dropped.get(key, 0) + count
        self.dropped_total += count

    def empty(self) -> bool:
        return not self._waiting

    def wants_sending(self, early_lines: int) -> bool:
        return len(self._waiting) >= early_lines or self._bytes >= self.batch_bytes

    def untold_drops(self) -> dict[tuple[uuid.UUID, str], int]:
        """Drops that never reached the run's logs (the API did not come back in time)."""
        untold, self._dropped = self._dropped, {}
        return untold

    # -- helpers ------------------------------------------------------------------------------

    def _fits(self, size: int) -> bool:
        return self._lines < self._max_lines and self._bytes + size <= self._max_bytes

    def _why_full(self) -> str:
        limit = f"the buffer of {self._max_lines} lines / {self._max_bytes} bytes was full"
        if self.api_error is not None:
            return f"the headrace API was unreachable ({self.api_error}) and {limit}"
        return f"the headrace API did not store them fast enough and {limit}"

    def _queue_notices(self) -> None:
        """A WARNING line in each run's logs for what was dropped, where the gap is."""
        for (flow_run_id, reason), count in self._dropped.items():
            message = f"{dropped_count(count)} dropped because {reason}"
            _tell_stderr(f"flow run {flow_run_id}: {message}")
            notice = LogLine(
                flow_run_id=flow_run_id,
                task_run_id=None,
                level=logging.WARNING,
                name=DROPPED_LOGGER,
                message=message,
                timestamp=datetime.now(UTC),
            )
            size = line_bytes(notice)
            # Not bound by the limits: a few lines, and they must not be dropped in turn.
            self._waiting.append((notice, size))
            self._lines += 1
            self._bytes += size
        self._dropped = {}


def dropped_count(count: int) -> str:
    return f"{count} log line" if count == 1 else f"{count} log lines"


def tell_untold_drops(untold: dict[tuple[uuid.UUID, str], int]) -> None:
    for (flow_run_id, reason), count in untold.items():
        _tell_stderr(
            f"flow run {flow_run_id}: {dropped_count(count)} dropped because {reason} "
            "(the run's logs could not be told: the API did not come back in time)"
        )


def _tell_stderr(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing else to tell
        print(f"headrace: {text}", file=sys.stderr, flush=True)
