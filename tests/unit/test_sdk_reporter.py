"""The reporter: task run states and logs leave in batches, survive an API outage, and logs
stay bounded while the API is away."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from headrace.ports.api import one_report_per_run
from headrace.reporter import LogLine, Reporter, TaskRunRecord
from headrace.states import Completed, Pending, Running, State


class FlakyApi:
    def __init__(self) -> None:
        self.up = True
        # The state names of each task run of each batch (the reporter reuses its lists).
        self.task_batches: list[list[list[str]]] = []
        self.log_batches: list[list[LogLine]] = []

    def send_task_runs(self, batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> None:
        if not self.up:
            raise ConnectionError("down")
        self.task_batches.append([[s.name for s in states] for _, states in batch])

    def send_logs(self, logs: list[LogLine]) -> None:
        if not self.up:
            raise ConnectionError("down")
        self.log_batches.append(logs)


def record(i: int, flow_run_id: uuid.UUID) -> TaskRunRecord:
    return TaskRunRecord(uuid.uuid4(), flow_run_id, f"t-{i}", "t", str(i), [])


def log(i: int, flow_run_id: uuid.UUID) -> LogLine:
    return LogLine(flow_run_id, None, 20, "test", f"line {i}", datetime.now(UTC))


def test_a_thousand_task_runs_leave_in_a_few_batches() -> None:
    api = FlakyApi()
    reporter = Reporter(api.send_task_runs, api.send_logs, interval=0.05)
    run_id = uuid.uuid4()
    for i in range(1000):
        r = record(i, run_id)
        reporter.set_state(r, Running())
        reporter.set_state(r, Completed())
    assert reporter.flush(timeout=10)
    # Batched, never one request per task: how many batches depends on how busy the machine is.
    assert 1 <= len(api.task_batches) <= 50
    sent = [report for batch in api.task_batches for report in batch]
    states = [name for report in sent for name in report]
    assert states.count("Running") == 1000 and states.count("Completed") == 1000


def test_states_are_resent_after_an_outage_and_old_logs_dropped_with_a_count() -> None:
    api = FlakyApi()
    api.up = False
    reporter = Reporter(api.send_task_runs, api.send_logs, interval=0.01, max_logs=10)
    run_id = uuid.uuid4()
    r = record(0, run_id)
    reporter.set_state(r, Running())
    for i in range(25):
        reporter.log(log(i, run_id))
    assert not reporter.flush(timeout=0.2)  # nothing can leave while the API is down
    api.up = True
    assert reporter.flush(timeout=10)
    assert [name for batch in api.task_batches for rep in batch for name in rep] == ["Running"]
    messages = [entry.message for batch in api.log_batches for entry in batch]
    assert messages[0] == "15 log lines were dropped while the headrace API was unreachable"
    assert messages[1:] == [f"line {i}" for i in range(15, 25)]


def test_two_records_of_one_task_run_leave_as_one_report() -> None:
    flow_side = record(0, uuid.uuid4())
    runner_side = TaskRunRecord(
        flow_side.id, flow_side.flow_run_id, flow_side.name, "t", "0", [], run_count=1
    )
    other = record(1, flow_side.flow_run_id)
    batch = [
        (flow_side, [Pending()]),
        (other, [Running()]),
        (runner_side, [Running(), Completed()]),
    ]
    reports = one_report_per_run(batch)
    assert [r.id for r in reports] == [flow_side.id, other.id]
    assert [s.name for s in reports[0].states] == ["Pending", "Running", "Completed"]
    assert reports[0].run_count == 1  # the later record's fields
