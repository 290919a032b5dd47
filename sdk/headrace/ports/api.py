"""The ports on the headrace API, through the typed client.

Flow run states go synchronously (the server may refuse them); task run states and log lines are
buffered by one `Reporter`, whose thread sends them in batches; results and slots are plain calls.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from headrace._state_types import StateType
from headrace.client import concurrency, deployment_code, flow_runs, logs, results, task_runs
from headrace.client.transport import HeadraceClient, detail_text
from headrace.errors import ApiError, ApiUnreachable, Conflict, HeadraceError, NotFound
from headrace.exceptions import Abort
from headrace.ports import FlowRunInfo, NewFlowRun
from headrace.reporter import LogBatchRefused, LogLine, Reporter, TaskRunRecord
from headrace.schemas.common import StateCreate
from headrace.schemas.concurrency import SlotAcquire, SlotHolder
from headrace.schemas.deployment_code import DeploymentCode
from headrace.schemas.flow_runs import FlowRun, FlowRunCreate, SetStateRequest
from headrace.schemas.results import ResultWrite
from headrace.schemas.task_runs import TaskRunBatch, TaskRunReport, TaskRunStateReport
from headrace.states import State

_logger = logging.getLogger("headrace.engine")

# How long the set of limited tags is trusted before it is read again.
LIMITED_TAGS_TTL_SECONDS = 5.0
# A flow run's own state changes (Running, its final state) are few and must not be lost to a
# short outage (an API restart, a failover): with the client's backoff (0.2 s doubling, capped
# at 5 s) 8 retries wait about 21 s, while the default 3 give up after 1.4 s and a run whose work
# was done ended Crashed ("exited without reporting a final state"). The worker keeps the lease
# meanwhile.
FLOW_RUN_STATE_RETRIES = 8

# Log lines straight to JSON (pydantic-core), as the body of `POST /logs` expects them.
LOG_LINES_JSON = TypeAdapter(list[LogLine])


@contextmanager
def invalid_as_api_error() -> Iterator[None]:
    """A request the client itself finds invalid fails as the server's 422 would."""
    try:
        yield
    except ValidationError as error:
        raise ApiError(422, detail_text(error.errors(include_url=False))) from None


def state_create(state: State[Any]) -> StateCreate:
    return StateCreate.model_validate(state, from_attributes=True)


def task_run_report(record: TaskRunRecord, states: list[State[Any]]) -> TaskRunReport:
    """The report of a task run with the states it went through since the last one."""
    report = TaskRunReport.model_validate(record, from_attributes=True)
    report.states = [TaskRunStateReport.model_validate(s, from_attributes=True) for s in states]
    return report


def one_report_per_run(batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> list[TaskRunReport]:
    """One report per task run: a run's states may come from two records of it (the flow's,
    which recorded Pending, and the one of the task runner that ran the call); the later
    record's fields win, as they would on the server."""
    reports: dict[uuid.UUID, TaskRunReport] = {}
    for record, states in batch:
        report = task_run_report(record, states)
        earlier = reports.get(record.id)
        if earlier is not None:
            report.states[:0] = earlier.states
        reports[record.id] = report
    return list(reports.values())


def flow_run_info(run: FlowRun) -> FlowRunInfo:
    return FlowRunInfo(
        id=run.id,
        name=run.name,
        flow_name=run.flow_name,
        parameters=run.parameters,
        tags=run.tags,
        run_count=run.run_count,
        state_type=run.state_type.value,
        deployment_id=run.deployment_id,
        deployment_name=run.deployment_name,
        expected_start_time=run.expected_start_time or run.start_time or run.created,
    )


class ApiRunStates:
    def __init__(self, client: HeadraceClient) -> None:
        self.client = client
        self._lost_api = False

    def create(self, run: NewFlowRun) -> FlowRunInfo:
        with invalid_as_api_error():
            body = FlowRunCreate.model_validate(run, from_attributes=True)
        return flow_run_info(flow_runs.create(self.client, body))

    def read(self, flow_run_id: uuid.UUID) -> FlowRunInfo:
        # The run's real parameters, SecretStr ones included (the API masks them otherwise).
        detail = flow_runs.read(self.client, flow_run_id, reveal_secrets=True)
        info = flow_run_info(detail)
        history = sorted(detail.states, key=lambda s: s.timestamp)
        info.attempt_starts = [s.timestamp for s in history if s.type is StateType.RUNNING]
        scheduled = [s for s in history if s.type is StateType.SCHEDULED]
        if scheduled and scheduled[-1].data and "from_failure" in scheduled[-1].data:
            info.from_failure = bool(scheduled[-1].data["from_failure"])
        return info

    def completed_task_runs(self, flow_run_id: uuid.UUID) -> dict[uuid.UUID, datetime | None]:
        return {
            run.id: run.end_time
            for run in task_runs.of_flow_run(self.client, flow_run_id)
            # A run rolled back with its transaction is to run again (headrace.resume).
            if run.state_type is StateType.COMPLETED and run.state_name != "RolledBack"
        }

    def set_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> bool:
        with invalid_as_api_error():
            holder = uuid.UUID(worker_id) if worker_id else None
            body = SetStateRequest(state=state_create(state), worker_id=holder)
        try:
            flow_runs.set_state(
                self.client,
                flow_run_id,
                body,
                retries=max(self.client.retries, FLOW_RUN_STATE_RETRIES),
            )
        except Conflict as exc:
            raise Abort(f"the API refused the state {state.name}: {exc.detail}") from None
        except ApiUnreachable as exc:
            self._warn_lost(exc)
            return False
        return True

    def read_deployment(self, deployment_id: uuid.UUID) -> DeploymentCode:
        return deployment_code.read(self.client, deployment_id)

    def rename(self, flow_run_id: uuid.UUID, name: str) -> bool:
        try:
            flow_runs.rename(self.client, flow_run_id, name)
        except HeadraceError as exc:
            _logger.warning("could not rename flow run %s to %r: %s", flow_run_id, name, exc)
            return False
        return True

    def _warn_lost(self, exc: Exception) -> None:
        if not self._lost_api:
            self._lost_api = True
            _logger.warning("lost the headrace API (%s); the run goes on", exc)


def task_run_sender(
    client: HeadraceClient,
) -> Callable[[list[tuple[TaskRunRecord, list[State[Any]]]]], None]:
    """What the reporter thread calls with a batch of task runs (not retried: it retries)."""

    def send(batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> None:
        task_runs.report(client, TaskRunBatch(task_runs=one_report_per_run(batch)), retries=0)

    return send


def log_sender(
    client: HeadraceClient, *, retries: int | None = 0
) -> Callable[[list[LogLine]], None]:
    """What a reporter thread calls with a batch of log lines (`retries=None`: the client's).

    The lines are serialised straight to JSON (they have `LogCreate`'s fields; the API
    validates them); a batch the API refuses as such raises `LogBatchRefused`."""

    def send(lines: list[LogLine]) -> None:
        try:
            logs.create_raw(client, LOG_LINES_JSON.dump_json(lines), retries=retries)
        except ApiError as error:
            if error.status_code == 413:
                raise LogBatchRefused(
                    f"it was larger than the API's request body limit ({error.detail})",
                    too_large=True,
                ) from None
            if error.status_code == 422:
                raise LogBatchRefused(
                    f"the API refused it: {error.detail[:500]}", too_large=False
                ) from None
            raise

    return send


class ApiTaskRuns:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def set_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        self.reporter.set_state(record, state)

    def flush(self) -> bool:
        return self.reporter.flush()


class ApiLogs:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def log(self, entry: LogLine) -> None:
        self.reporter.log(entry)

    def flush(self) -> bool:
        return self.reporter.flush()


class ApiResults:
    def __init__(self, client: HeadraceClient) -> None:
        self.client = client

    def read(self, key: str) -> tuple[str, bytes] | None:
        try:
            result = results.read(self.client, key, retries=1)
        except NotFound:
            return None
        except HeadraceError as exc:
            _logger.warning(
                "could not read a cached result from the API (%s); running the task", exc
            )
            return None
        return result.serializer, result.data

    def write(self, key: str, serializer: str, data: bytes, expires_at: datetime | None) -> None:
        # Base64Bytes validates base64 text: hand it the bytes encoded.
        body = ResultWrite.model_validate(
            {"serializer": serializer, "data": base64.b64encode(data), "expires_at": expires_at}
        )
        results.write(self.client, key, body)

    def delete(self, key: str) -> None:
        with suppress(NotFound):  # nothing stored: nothing to forget
            results.delete(self.client, key)


class ApiSlots:
    def __init__(self, client: HeadraceClient) -> None:
        self.client = client
        self._limited_tags: tuple[float, frozenset[str]] = (0.0, frozenset())

    def limited_tags(self) -> frozenset[str]:
        read_at, tags = self._limited_tags
        if time.monotonic() - read_at < LIMITED_TAGS_TTL_SECONDS:
            return tags
        try:
            tags = frozenset(limit.tag for limit in concurrency.list_limits(self.client, retries=1))
        except HeadraceError as exc:
            _logger.debug("could not read concurrency limits: %s", exc)
        self._limited_tags = (time.monotonic(), tags)
        return tags

    def acquire(self, tags: list[str], holder_id: uuid.UUID, lease_seconds: float) -> bool:
        body = SlotAcquire(tags=tags, holder_id=holder_id, lease_seconds=lease_seconds)
        return concurrency.acquire(self.client, body).acquired

    def renew(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None:
        for holder_id in holder_ids:
            body = SlotHolder(holder_id=holder_id, lease_seconds=lease_seconds)
            concurrency.renew(self.client, body, retries=0)

    def release(self, holder_id: uuid.UUID) -> None:
        concurrency.release(self.client, SlotHolder(holder_id=holder_id))
