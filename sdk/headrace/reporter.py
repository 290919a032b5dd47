"""The background thread that reports task runs and log lines to the API in batches.

A tracked task must cost microseconds, so the engine only appends to in-memory buffers here; one
daemon thread turns them into `POST /task_runs/batch` and `POST /logs` requests every
`interval` seconds (sooner when a buffer fills) and on `flush()`. When the API is away, task run
states are kept and re-sent (the API upserts them idempotently by id). Log lines wait in a
bounded `LogQueue` (see log_queue.py: batches sized in bytes, back-pressure on the thread that
logs, drops counted and told); a batch the API refuses as too large or invalid is split in
halves until the API takes it, a single line it refuses being dropped with its count and reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from headrace.log_queue import (
    DEFAULT_BLOCK_SECONDS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINES,
    MIN_BATCH_BYTES,
    LogLine,
    LogQueue,
    tell_untold_drops,
)
from headrace.signal_mask import leave_signals_to_main_thread
from headrace.states import State

__all__ = ["LogBatchRefused", "LogLine", "Reporter", "TaskRunRecord"]

# Called from the reporter's thread with a batch; raising keeps the batch for the next try.
TaskRunSender = Callable[[list[tuple["TaskRunRecord", list[State[Any]]]]], None]
LogSender = Callable[[list["LogLine"]], None]

DEFAULT_INTERVAL_SECONDS = 0.5
# Matches the API's batch limit (schemas.task_runs.MAX_TASK_RUN_BATCH).
TASK_RUN_BATCH = 1000
# How long `flush` waits at most for a backlog that keeps going out.
MAX_FLUSH_SECONDS = 300.0
# Wake the thread early when this many items wait, so one batch stays under the API's limits.
EARLY_SEND = 500

_logger = logging.getLogger("headrace.reporter")


class LogBatchRefused(Exception):
    """Raised by a log sender when the API refused the batch itself (413, 422): sending it
    again would fail again, so the reporter splits it."""

    def __init__(self, reason: str, *, too_large: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(eq=False)
class TaskRunRecord:
    """What the client knows of one task run; states not yet sent wait in `unsent`."""

    id: uuid.UUID
    flow_run_id: uuid.UUID
    name: str
    task_key: str
    dynamic_key: str
    tags: list[str]
    run_count: int = 0
    task_inputs: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    cache_key: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    state: State[Any] | None = None
    unsent: list[State[Any]] = field(default_factory=list)
    queued: bool = False


class Reporter:
    """Buffers task run states and logs; a daemon thread sends them in batches."""

    def __init__(
        self,
        send_task_runs: TaskRunSender,
        send_logs: LogSender,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        max_logs: int = DEFAULT_MAX_LINES,
        max_log_bytes: int = DEFAULT_MAX_BYTES,
        log_block_seconds: float = DEFAULT_BLOCK_SECONDS,
    ) -> None:
        self._send_task_runs = send_task_runs
        self._send_logs = send_logs
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._records: list[TaskRunRecord] = []
        self._logs = LogQueue(
            self._lock, max_lines=max_logs, max_bytes=max_log_bytes, block_seconds=log_block_seconds
        )
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    # -- called by the engine, on the hot path ------------------------------------------------

    def set_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        """Record a new state of a task run; it leaves with the next batch."""
        with self._lock:
            record.state = state
            record.unsent.append(state)
            if not record.queued:
                record.queued = True
                self._records.append(record)
                if len(self._records) >= EARLY_SEND:
                    self._wake.notify()
        self._ensure_thread()

    def log(self, entry: LogLine) -> None:
        """Queue one log line; when the queue is full, wait a while for room, else drop it
        (counted, and told later in the run's logs and on stderr)."""
        self._ensure_thread()
        # The reporter's own thread never waits for itself.
        may_wait = threading.current_thread() is not self._thread and not self._stopped
        with self._lock:
            self._logs.put(entry, may_wait=may_wait)
            if self._logs.wants_sending(EARLY_SEND):
                self._wake.notify()

    # -- control ------------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything buffered now; False if nothing could be sent for `timeout` seconds.

        A backlog that goes out steadily is waited for (up to MAX_FLUSH_SECONDS): a flow that
        logged faster than the API stores ends when its last line is stored, not with its
        tail lost."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + max(timeout, MAX_FLUSH_SECONDS)
        with self._lock:
            self._wake.notify()
            while True:
                progress = self._logs.batches_sent
                if self._idle.wait_for(self._drained, timeout):
                    return True
                if self._logs.batches_sent == progress or time.monotonic() > deadline:
                    return False

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._lock:
            self._stopped = True
            self._wake.notify()
            untold = self._logs.untold_drops()
        tell_untold_drops(untold)

    @property
    def dropped_logs(self) -> int:
        """Log lines dropped since this reporter started."""
        return self._logs.dropped_total

    def _drained(self) -> bool:
        return not self._busy and not self._records and self._logs.empty()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(
                        target=self._run, name="headrace-reporter", daemon=True
                    )
                    self._thread.start()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        # Else a Ctrl-C delivered to this thread would not wake a main thread that sleeps.
        leave_signals_to_main_thread()
        while True:
            with self._lock:
                if not self._records and self._logs.empty():
                    self._idle.notify_all()
                    if self._stopped:
                        return
                    self._wake.wait(self._interval)
                records, self._records = self._records, []
                batch = [(r, r.unsent) for r in records]
                for r in records:
                    r.unsent = []
                    r.queued = False
                logs = self._logs.take()
                self._busy = True
            sent = self._send_task_run_batch(batch)
            unsent_logs = self._deliver_logs(logs) if sent else logs
            with self._lock:
                self._busy = False
                if not sent:
                    self._requeue(batch)
                if unsent_logs:
                    self._logs.give_back(unsent_logs)
                if not sent or unsent_logs:
                    # The API is away: wait a whole interval rather than spin on it (lines
                    # logged meanwhile notify the thread; only closing cuts the wait short).
                    self._wake.wait_for(lambda: self._stopped, self._interval * 4)

    def _send_task_run_batch(self, batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> bool:
        try:
            for start in range(0, len(batch), TASK_RUN_BATCH):
                chunk = batch[start : start + TASK_RUN_BATCH]
                self._send_task_runs(chunk)
                # Sent: a retry after a later failure must not send these states again.
                for _record, states in chunk:
                    states.clear()
            return True
        except Exception as exc:  # any failure of the API: keep the data, try again later
            self._api_failed(exc)
            return False

    def _deliver_logs(self, logs: list[tuple[LogLine, int]]) -> list[tuple[LogLine, int]]:
        """Send a batch, splitting what the API refuses; the lines left when it fails."""
        parts = [logs] if logs else []  # a stack: the first part is on top
        while parts:
            part = parts.pop()
            try:
                self._send_logs([line for line, _size in part])
            except LogBatchRefused as refusal:
                if len(part) == 1:
                    with self._lock:
                        self._logs.drop(part[0][0].flow_run_id, refusal.reason)
                        self._logs.sent(part)
                    continue
                if refusal.too_large:
                    # Learn the smaller cap, so the next batches are not refused too.
                    size = sum(size for _line, size in part)
                    with self._lock:
                        self._logs.batch_bytes = max(MIN_BATCH_BYTES, size // 2)
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]
            except Exception as exc:  # any failure of the API: keep the lines, try again later
                self._api_failed(exc)
                return part + [item for rest in reversed(parts) for item in rest]
            else:
                with self._lock:
                    self._logs.sent(part)
        return []

    def _api_failed(self, exc: Exception) -> None:
        _logger.debug("reporting to the API failed: %s", exc)
        with self._lock:
            self._logs.api_error = str(exc) or type(exc).__name__

    def _requeue(self, batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> None:
        for record, states in batch:
            if not states:
                continue
            record.unsent[:0] = states
            if not record.queued:
                record.queued = True
                self._records.append(record)
