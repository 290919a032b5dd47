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

Sender = Callable[[list[dict[str, Any]]], None]

DEFAULT_INTERVAL_SECONDS = 0.5
DEFAULT_MAX_LOGS = 50_000
# Matches the API's batch limits (schemas.task_runs.MAX_TASK_RUN_BATCH, schemas.logs.MAX_LOG_BATCH).
TASK_RUN_BATCH = 1000
LOG_BATCH = 5000
# Wake the thread early when this many items wait, so one batch stays under the API's limits.
EARLY_SEND = 500

_logger = logging.getLogger("headrace.reporter")


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

    def to_report(self, states: list[State[Any]]) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "flow_run_id": str(self.flow_run_id),
            "name": self.name,
            "task_key": self.task_key,
            "dynamic_key": self.dynamic_key,
            "tags": self.tags,
            "run_count": self.run_count,
            "task_inputs": {
                name: [{"id": str(i)} for i in ids] for name, ids in self.task_inputs.items()
            },
            "cache_key": self.cache_key,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "states": [_state_report(s) for s in states],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _state_report(state: State[Any]) -> dict[str, Any]:
    return {
        "id": str(state.id),
        "type": state.type.value,
        "name": state.name,
        "message": state.message,
        "timestamp": state.timestamp.isoformat(),
        "data": state.data,
    }


class Reporter:
    """Buffers task run states and logs; a daemon thread sends them in batches."""

    def __init__(
        self,
        send_task_runs: Sender,
        send_logs: Sender,
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
        self._logs: deque[dict[str, Any]] = deque()
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

    def log(self, entry: dict[str, Any]) -> None:
        """Queue one log line (a `LogCreate` as a dict); the oldest is dropped when full."""
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
        logs: list[dict[str, Any]],
        dropped: int,
    ) -> bool:
        try:
            for start in range(0, len(batch), TASK_RUN_BATCH):
                chunk = batch[start : start + TASK_RUN_BATCH]
                self._send_task_runs([record.to_report(states) for record, states in chunk])
                # Sent: a retry after a later failure must not send these states again.
                for _record, states in chunk:
                    states.clear()
            if logs:
                notice = [_dropped_notice(logs[0]["flow_run_id"], dropped)] if dropped else []
                self._send_logs(notice + logs)
            return True
        except Exception as exc:  # any failure of the API: keep the data, try again later
            _logger.debug("reporting to the API failed: %s", exc)
            return False

    def _requeue(
        self,
        batch: list[tuple[TaskRunRecord, list[State[Any]]]],
        logs: list[dict[str, Any]],
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


def _dropped_notice(flow_run_id: str, dropped: int) -> dict[str, Any]:
    return {
        "flow_run_id": flow_run_id,
        "task_run_id": None,
        "level": logging.WARNING,
        "name": "headrace.reporter",
        "message": f"{dropped} log lines were dropped while the headrace API was unreachable",
        "timestamp": datetime.now(UTC).isoformat(),
    }
