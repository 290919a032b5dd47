"""The ports with no API: a script still runs, records nothing, and keeps in memory what must
work in-process (the results cache)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headrace.exceptions import Abort
from headrace.ports import FlowRunInfo, NewFlowRun

if TYPE_CHECKING:
    from headrace.reporter import LogLine, TaskRunRecord
    from headrace.schemas.deployment_code import DeploymentCode
    from headrace.states import State


class OfflineRunStates:
    def create(self, run: NewFlowRun) -> FlowRunInfo:
        run_id = uuid.uuid4()
        name = run.name or f"offline-{run_id.hex[:8]}"
        return FlowRunInfo(
            run_id,
            name,
            run.flow_name,
            run.parameters,
            run.tags,
            expected_start_time=run.state.timestamp,
        )

    def read(self, flow_run_id: uuid.UUID) -> FlowRunInfo:
        raise Abort("the headrace API is not reachable: cannot read an existing flow run")

    def set_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> bool:
        return False  # nothing is recorded offline

    def read_deployment(self, deployment_id: uuid.UUID) -> DeploymentCode:
        raise Abort("the headrace API is not reachable: cannot read a deployment")

    def rename(self, flow_run_id: uuid.UUID, name: str) -> bool:
        return False

    def completed_task_runs(self, flow_run_id: uuid.UUID) -> dict[uuid.UUID, datetime | None]:
        return {}  # an offline run is never an existing one


class OfflineTaskRuns:
    def set_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        record.state = state

    def flush(self) -> bool:
        return True


class OfflineLogs:
    def log(self, entry: LogLine) -> None:
        pass

    def flush(self) -> bool:
        return True


class MemoryResults:
    """Results kept for this process only."""

    def __init__(self) -> None:
        self._results: dict[str, tuple[str, bytes, datetime | None]] = {}
        self._lock = threading.Lock()

    def read(self, key: str) -> tuple[str, bytes] | None:
        with self._lock:
            found = self._results.get(key)
        if found is None:
            return None
        serializer, data, expires_at = found
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        return serializer, data

    def write(self, key: str, serializer: str, data: bytes, expires_at: datetime | None) -> None:
        with self._lock:
            self._results[key] = (serializer, data, expires_at)

    def delete(self, key: str) -> None:
        with self._lock:
            self._results.pop(key, None)


class NoSlots:
    """Tag concurrency limits are enforced by the API only: offline, nothing is limited."""

    def limited_tags(self) -> frozenset[str]:
        return frozenset()

    def acquire(self, tags: list[str], holder_id: uuid.UUID, lease_seconds: float) -> bool:
        return True

    def renew(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None:
        pass

    def release(self, holder_id: uuid.UUID) -> None:
        pass
