"""Helpers to test flows without a server: run them offline, or record what they report.

from headrace.testing import recording_backend

def test_my_flow():
    with recording_backend() as recorded:
        my_flow()
    assert recorded.task_states["fetch-0"][-1].is_completed()
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headrace.ports.backend import Backend, set_backend
from headrace.ports.backend import offline_backend as new_offline_backend
from headrace.ports.offline import OfflineRunStates
from headrace.reporter import LogLine, TaskRunRecord
from headrace.states import State


class RecordingRunStates(OfflineRunStates):
    """Flow runs as offline, their states kept in order."""

    def __init__(self) -> None:
        self.states: list[State[Any]] = []

    def set_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> bool:
        self.states.append(state)
        return True


class RecordingTaskRuns(dict[str, TaskRunRecord]):
    """Task runs by name (the latest record of each), with the states each went through."""

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, list[State[Any]]] = {}

    def set_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        record.state = state
        self[record.name] = record
        self.states.setdefault(record.name, []).append(state)

    def flush(self) -> bool:
        return True


class RecordingLogs(list[LogLine]):
    """Log lines, in order."""

    def log(self, entry: LogLine) -> None:
        self.append(entry)

    def flush(self) -> bool:
        return True


class RecordingBackend(Backend):
    """Records nothing remotely; keeps flow run states, task run states and logs in memory:
    `flow_states`, `task_runs` (records by name), `task_states` (by name) and `logs`."""

    task_runs: RecordingTaskRuns
    logs: RecordingLogs

    def __init__(self) -> None:
        self.recorded_runs = RecordingRunStates()
        # online: so run loggers hand it their lines.
        super().__init__(
            runs=self.recorded_runs,
            task_runs=RecordingTaskRuns(),
            logs=RecordingLogs(),
            online=True,
        )

    @property
    def flow_states(self) -> list[State[Any]]:
        return self.recorded_runs.states

    @property
    def task_states(self) -> dict[str, list[State[Any]]]:
        return self.task_runs.states

    def messages(self) -> list[str]:
        return [entry.message for entry in self.logs]

    def state_names(self, task_run_name: str) -> list[str]:
        return [s.name for s in self.task_runs.states[task_run_name]]


@contextmanager
def recording_backend() -> Iterator[RecordingBackend]:
    """Flows run in this block report to a `RecordingBackend` instead of the API."""
    backend = RecordingBackend()
    previous = set_backend(backend)
    try:
        yield backend
    finally:
        set_backend(previous)


@contextmanager
def offline_backend() -> Iterator[Backend]:
    """Flows run in this block record nothing (as with no API, without the warning)."""
    backend = new_offline_backend()
    previous = set_backend(backend)
    try:
        yield backend
    finally:
        set_backend(previous)
