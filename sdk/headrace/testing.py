"""Helpers to test flows without a server: run them offline, or record what they report.

from headrace.testing import recording_backend

def test_my_flow():
    with recording_backend() as recorded:
        my_flow()
    assert recorded.task_states["fetch-0"][-1].is_completed()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headrace.engine.backend import Backend, set_backend
from headrace.reporter import TaskRunRecord
from headrace.states import State


class RecordingBackend(Backend):
    """Records nothing remotely; keeps flow run states, task run states and logs in memory."""

    online = True  # so run loggers hand it their lines

    def __init__(self) -> None:
        super().__init__()
        self.flow_states: list[State[Any]] = []
        self.task_states: dict[str, list[State[Any]]] = {}
        self.task_runs: dict[str, TaskRunRecord] = {}
        self.logs: list[dict[str, Any]] = []

    def set_flow_run_state(
        self, flow_run_id: Any, state: State[Any], *, worker_id: str | None = None
    ) -> None:
        self.flow_states.append(state)

    def set_task_run_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        record.state = state
        self.task_runs[record.name] = record
        self.task_states.setdefault(record.name, []).append(state)

    def log(self, entry: dict[str, Any]) -> None:
        self.logs.append(entry)

    def messages(self) -> list[str]:
        return [entry["message"] for entry in self.logs]

    def state_names(self, task_run_name: str) -> list[str]:
        return [s.name for s in self.task_states[task_run_name]]


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
    backend = Backend()
    previous = set_backend(backend)
    try:
        yield backend
    finally:
        set_backend(previous)
