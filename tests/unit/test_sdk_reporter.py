"""The reporter: task run states and logs leave in batches, survive an API outage, and logs
stay bounded while the API is away."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from headrace.ports.api import LOG_LINES_JSON, one_report_per_run
from headrace.reporter import LogBatchRefused, LogLine, Reporter, TaskRunRecord
from headrace.schemas.limits import MAX_BODY_BYTES
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


def test_states_are_resent_after_an_outage_and_overflowing_logs_dropped_with_a_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = FlakyApi()
    api.up = False
    reporter = Reporter(
        api.send_task_runs, api.send_logs, interval=0.01, max_logs=10, log_block_seconds=0.2
    )
    run_id = uuid.uuid4()
    r = record(0, run_id)
    reporter.set_state(r, Running())
    started = time.monotonic()
    for i in range(25):
        reporter.log(log(i, run_id))
    # The logger waited once for room (0.2 s), then dropped without waiting.
    assert time.monotonic() - started < 2
    assert not reporter.flush(timeout=0.2)  # nothing can leave while the API is down
    api.up = True
    assert reporter.flush(timeout=10)
    assert [name for batch in api.task_batches for rep in batch for name in rep] == ["Running"]
    messages = [entry.message for batch in api.log_batches for entry in batch]
    # The lines that fitted are kept in order; the count of the others follows, with why.
    assert messages[:10] == [f"line {i}" for i in range(10)]
    why = "15 log lines dropped because the headrace API was unreachable (down)"
    assert len(messages) == 11 and messages[10].startswith(why)
    assert "buffer of 10 lines" in messages[10]
    assert reporter.dropped_logs == 15
    stderr = capsys.readouterr().err
    assert "headrace: log lines are being dropped: the headrace API was unreachable" in stderr
    assert f"headrace: flow run {run_id}: {why}" in stderr


def line_of(i: int, flow_run_id: uuid.UUID, width: int = 200) -> LogLine:
    return LogLine(flow_run_id, None, 20, "headrace.run", f"{i:08d} ".ljust(width, "x"), NOW)


NOW = datetime.now(UTC)


def body_bytes(lines: list[LogLine]) -> int:
    """The size of the request body the real log sender makes of these lines."""
    return len(LOG_LINES_JSON.dump_json(lines)) + len(b'{"logs":}')


class CappedApi:
    """Refuses, as the API does with 413, any body over `cap` bytes; slow if told so."""

    def __init__(self, cap: int, seconds_per_batch: float = 0.0) -> None:
        self.cap = cap
        self.seconds_per_batch = seconds_per_batch
        self.stored: list[LogLine] = []
        self.refused = 0
        self.largest = 0

    def send_logs(self, lines: list[LogLine]) -> None:
        size = body_bytes(lines)
        if size > self.cap:
            self.refused += 1
            raise LogBatchRefused("too large", too_large=True)
        time.sleep(self.seconds_per_batch)
        self.largest = max(self.largest, size)
        self.stored.extend(lines)


def no_task_runs(batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> None:
    raise AssertionError("no task runs in these tests")


def test_log_batches_are_sized_in_bytes_under_the_api_body_cap() -> None:
    api = CappedApi(MAX_BODY_BYTES)
    reporter = Reporter(no_task_runs, api.send_logs, interval=0.01)
    run_id = uuid.uuid4()
    lines = [line_of(i, run_id) for i in range(30_000)]
    for line in lines:
        reporter.log(line)
    assert reporter.flush(timeout=30)
    # Before: batches of 5,000 lines of 200 characters (~2 MB) were all refused.
    assert api.refused == 0 and api.largest <= MAX_BODY_BYTES
    assert api.stored == lines


def test_a_refused_batch_is_split_until_the_api_takes_it() -> None:
    api = CappedApi(64 * 1024)  # a server with a smaller HEADRACE_MAX_BODY_BYTES
    reporter = Reporter(no_task_runs, api.send_logs, interval=0.01)
    run_id = uuid.uuid4()
    lines = [line_of(i, run_id) for i in range(3000)]
    for line in lines:
        reporter.log(line)
    assert reporter.flush(timeout=30)
    assert api.stored == lines  # every line, in order
    # The smaller cap is learnt: a few refusals, not two per batch.
    assert 1 <= api.refused <= 10


def test_a_line_larger_than_the_cap_is_dropped_and_counted_in_the_runs_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = CappedApi(8 * 1024)
    reporter = Reporter(no_task_runs, api.send_logs, interval=0.01)
    run_id = uuid.uuid4()
    reporter.log(line_of(0, run_id))
    reporter.log(line_of(1, run_id, width=20_000))
    reporter.log(line_of(2, run_id))
    assert reporter.flush(timeout=10)
    messages = [line.message[:8] for line in api.stored]
    assert messages[:2] == ["00000000", "00000002"]
    assert api.stored[2].message == "1 log line dropped because too large"
    assert api.stored[2].level == logging.WARNING
    assert "1 log line dropped because too large" in capsys.readouterr().err


def test_a_logger_faster_than_the_api_waits_for_room_and_loses_nothing() -> None:
    api = CappedApi(MAX_BODY_BYTES, seconds_per_batch=0.02)
    # Room for 100 lines; each batch takes 20 ms: the logger must wait about 40 times.
    reporter = Reporter(no_task_runs, api.send_logs, interval=0.01, max_logs=100)
    run_id = uuid.uuid4()
    lines = [line_of(i, run_id) for i in range(4000)]
    for line in lines:
        reporter.log(line)
    assert reporter.flush(timeout=30)
    assert reporter.dropped_logs == 0
    assert api.stored == lines


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
