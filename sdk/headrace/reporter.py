"""The background thread that reports task runs and log lines to the API in batches.

A tracked task must cost microseconds, so the engine only appends to in-memory buffers here; one
daemon thread turns them into `POST /task_runs/batch` and `POST /logs` requests every
`interval` seconds (sooner when a buffer fills) and on `flush()`. When the API is away, task run
states are kept and re-sent (the API upserts them idempotently by id); log lines are kept up to
`max_logs`, the oldest dropped first, and the count of dropped lines is logged once it is back.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headrace.signal_mask import leave_signals_to_main_thread
from headrace.states import State

# Called from the reporter's thread with a batch; raising keeps the batch for the next try.
TaskRunSender = Callable[[list[tuple["TaskRunRecord", list[State[Any]]]]], None]
LogSender = Callable[[list["LogLine"]], None]

DEFAULT_INTERVAL_SECONDS = 0.5
DEFAULT_MAX_LOGS = 50_000
# Matches the API's batch limits (schemas.task_runs.MAX_TASK_RUN_BATCH, schemas.logs.MAX_LOG_BATCH).
TASK_RUN_BATCH = 1000
LOG_BATCH = 5000
# Wake the thread early when this many items wait, so one batch stays under the API's limits.
EARLY_SEND = 500

_logger = logging.getLogger("headrace.reporter")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of a run (the fields of the API's `LogCreate`), kept until it is sent."""

    flow_run_id: uuid.UUID
    task_run_id: uuid.UUID | None
    level: int
    name: str
    message: str
    timestamp: datetime


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
        max_logs: int = DEFAULT_MAX_LOGS,
    ) -> None:
        self._send_task_runs = send_task_runs
        self._send_logs = send_logs
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._records: list[TaskRunRecord] = []
        self._logs: deque[LogLine] = deque()
        self._max_logs = max_logs
        self._dropped_logs = 0
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
        """Queue one log line; the oldest is dropped when full."""
        with self._lock:
            if len(self._logs) >= self._max_logs:
                self._logs.popleft()
                self._dropped_logs += 1
            self._logs.append(entry)
            if len(self._logs) >= EARLY_SEND:
                self._wake.notify()
        self._ensure_thread()

    # -- control ------------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything buffered now; False if it could not all be sent within `timeout`."""
        if self._thread is None:
            return True
        with self._lock:
            self._wake.notify()
            return self._idle.wait_for(self._drained, timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._lock:
            self._stopped = True
            self._wake.notify()

    @property
    def dropped_logs(self) -> int:
        return self._dropped_logs

    def _drained(self) -> bool:
        return not self._busy and not self._records and not self._logs

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
                if not self._records and not self._logs:
                    self._idle.notify_all()
                    if self._stopped:
                        return
                    self._wake.wait(self._interval)
                records, self._records = self._records, []
                batch = [(r, r.unsent) for r in records]
                for r in records:
                    r.unsent = []
                    r.queued = False
                logs = [self._logs.popleft() for _ in range(min(len(self._logs), LOG_BATCH))]
                dropped, self._dropped_logs = self._dropped_logs, 0
                self._busy = True
            sent = self._send(batch, logs, dropped)
            with self._lock:
                self._busy = False
                if not sent:
                    self._requeue(batch, logs, dropped)
                    # The API is away: wait a whole interval rather than spin on it.
                    self._wake.wait(self._interval * 4)

    def _send(
        self,
        batch: list[tuple[TaskRunRecord, list[State[Any]]]],
        logs: list[LogLine],
        dropped: int,
    ) -> bool:
        try:
            for start in range(0, len(batch), TASK_RUN_BATCH):
                chunk = batch[start : start + TASK_RUN_BATCH]
                self._send_task_runs(chunk)
                # Sent: a retry after a later failure must not send these states again.
                for _record, states in chunk:
                    states.clear()
            if logs:
                notice = [_dropped_notice(logs[0].flow_run_id, dropped)] if dropped else []
                self._send_logs(notice + logs)
            return True
        except Exception as exc:  # any failure of the API: keep the data, try again later
            _logger.debug("reporting to the API failed: %s", exc)
            return False

    def _requeue(
        self,
        batch: list[tuple[TaskRunRecord, list[State[Any]]]],
        logs: list[LogLine],
        dropped: int,
    ) -> None:
        for record, states in batch:
            if not states:
                continue
            record.unsent[:0] = states
            if not record.queued:
                record.queued = True
                self._records.append(record)
        overflow = max(0, len(self._logs) + len(logs) - self._max_logs)
        self._dropped_logs += dropped + overflow
        self._logs.extendleft(reversed(logs[overflow:]))


def _dropped_notice(flow_run_id: uuid.UUID, dropped: int) -> LogLine:
    return LogLine(
        flow_run_id=flow_run_id,
        task_run_id=None,
        level=logging.WARNING,
        name="headrace.reporter",
        message=f"{dropped} log lines were dropped while the headrace API was unreachable",
        timestamp=datetime.now(UTC),
    )
