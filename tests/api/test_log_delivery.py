"""Log lines reach a real server, all of them: a flow logging fast with long lines, a server with
a smaller body cap (its 413s split the batches), and an API away for a while (lines kept and
delivered when it is back; what overflowed the buffer counted in the run's logs and on stderr)."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from headrace import flow, get_run_logger
from headrace.client import HeadraceClient, flow_runs, logs
from headrace.context import flow_run_context
from headrace.ports.api import log_sender
from headrace.reporter import LogLine, Reporter
from headrace.schemas.flow_runs import FlowRunCreate
from headrace.schemas.logs import Log, LogQuery

LINE = "{:08d} " + "x" * 191  # 200 characters


def stored_lines(client: HeadraceClient, flow_run_id: uuid.UUID) -> list[Log]:
    lines: list[Log] = []
    after = None
    while True:
        page = logs.of_flow_run(client, flow_run_id, LogQuery(after=after, limit=10_000))
        lines += page.items
        if not page.items:
            return lines
        after = page.next_after


def logged_lines(client: HeadraceClient, run_id: uuid.UUID) -> list[str]:
    """The flow's own lines, without the engine's (beginning, finished)."""
    return [line.message for line in stored_lines(client, run_id) if line.message[:8].isdigit()]


@flow
def chatty(count: int) -> uuid.UUID:
    logger = get_run_logger()
    for i in range(count):
        logger.info(LINE.format(i))
    context = flow_run_context.get()
    assert context is not None
    return context.flow_run_id


def test_a_flow_logging_30000_long_lines_stores_every_one(client: HeadraceClient) -> None:
    # Before: 5,000-line batches of ~2 MB, refused (413) and retried until lines were dropped.
    run_id = chatty(30_000)
    assert logged_lines(client, run_id) == [LINE.format(i) for i in range(30_000)]


@pytest.mark.parametrize("server_settings_overrides", [{"max_body_bytes": 64 * 1024}])
def test_a_server_with_a_small_body_cap_still_gets_every_line(client: HeadraceClient) -> None:
    run_id = chatty(3000)
    assert logged_lines(client, run_id) == [LINE.format(i) for i in range(3000)]


def load_tcp_proxy() -> ModuleType:
    name = "_faults_tcp_proxy"
    if name not in sys.modules:
        path = Path(__file__).parent.parent / "faults" / "tcp_proxy.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_lines_logged_while_the_api_is_away_arrive_when_it_is_back_and_overflow_is_counted(
    client: HeadraceClient, api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = flow_runs.create(client, FlowRunCreate(flow_name="outage")).id
    upstream = httpx.URL(api_url)
    proxy = load_tcp_proxy().CuttableProxy((upstream.host, upstream.port))
    through_proxy = str(upstream.copy_with(port=proxy.port))
    with HeadraceClient(through_proxy, retries=0) as cut_client:
        reporter = Reporter(
            lambda batch: None,
            log_sender(cut_client),
            interval=0.05,
            max_logs=300,
            log_block_seconds=0.5,
        )
        try:
            proxy.cut()
            started = time.monotonic()
            for i in range(400):
                reporter.log(LogLine(run_id, None, 20, "app", LINE.format(i), datetime.now(UTC)))
            # One bounded wait for room, then the overflow is dropped without waiting.
            assert time.monotonic() - started < 5
            assert not reporter.flush(timeout=0.3)
            proxy.restore()
            assert reporter.flush(timeout=20)
        finally:
            reporter.close(1)
            proxy.close()
    messages = [line.message for line in stored_lines(client, run_id)]
    assert messages[:300] == [LINE.format(i) for i in range(300)]
    assert len(messages) == 301
    assert messages[300].startswith(
        "100 log lines dropped because the headrace API was unreachable (cannot reach"
    )
    assert "the buffer of 300 lines" in messages[300]
    assert f"headrace: flow run {run_id}: 100 log lines dropped because" in capsys.readouterr().err


def test_a_line_the_api_refuses_is_dropped_alone_and_counted(client: HeadraceClient) -> None:
    run_id = flow_runs.create(client, FlowRunCreate(flow_name="refused")).id
    reporter = Reporter(lambda batch: None, log_sender(client), interval=0.05)
    try:
        for i in range(50):
            level = 500 if i == 20 else 20  # the API takes levels 0 to 100
            reporter.log(LogLine(run_id, None, level, "app", LINE.format(i), datetime.now(UTC)))
        assert reporter.flush(timeout=20)
    finally:
        reporter.close(1)
    messages = [line.message for line in stored_lines(client, run_id)]
    assert messages[:49] == [LINE.format(i) for i in range(50) if i != 20]
    assert messages[49].startswith("1 log line dropped because the API refused it: ")
    assert "level" in messages[49]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"logs": [', "body is not valid JSON"),
        (b"[]", "body: Input should be an object"),
        (
            b'{"logs": [{"flow_run_id": "x"}]}',
            "body.logs.0.flow_run_id: Input should be a valid UUID",
        ),
        (b"", "a JSON body is required"),
        (
            b'{"logs": [{"flow_run_id": "6a4f0a2e-4d0b-4c0e-9f57-0c5ad4c6a1f1", "level": 20, '
            b'"name": "app", "message": "m", "timestamp": 1764842400}]}',
            "body.logs.0.timestamp: Input should be a valid datetime",
        ),
    ],
)
def test_a_bad_log_batch_is_a_422_saying_what_to_fix(
    http: httpx.Client, body: bytes, says: str
) -> None:
    # The batch is validated straight from its bytes: the messages stay those of other routes.
    response = http.post("/logs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_a_batch_is_stored_as_it_was_validated(http: httpx.Client) -> None:
    # The API stores the batch's JSON text as it came (PostgreSQL reads it): what it stores is
    # what pydantic validated, for a key given twice (the last counts) and escapes; a batch
    # with a NUL, which PostgreSQL text cannot hold, is written again with it as `\x00`.
    run_id = http.post("/flow_runs", json={"flow_name": "logs"}).json()["id"]
    line = f'"flow_run_id": "{run_id}", "name": "app", "timestamp": "2026-12-04T10:00:00Z"'
    for lines in (
        [
            f'{{{line}, "level": 1000, "level": 30, "message": "the last level counts"}}',
            f'{{{line}, "level": 20, "message": "\\u00e9 \\ud83d\\ude00 \\" \\\\"}}',
        ],
        [f'{{{line}, "level": 20, "message": "NUL \\u0000 and \\u00e9"}}'],
    ):
        body = f'{{"logs": [{", ".join(lines)}]}}'.encode()
        sent = http.post("/logs", content=body, headers={"content-type": "application/json"})
        assert sent.status_code == 201, sent.text
    stored = http.get(f"/flow_runs/{run_id}/logs").json()["items"]
    assert [(line["level"], line["message"]) for line in stored] == [
        (30, "the last level counts"),
        (20, '\u00e9 \U0001f600 " \\'),
        (20, "NUL \\x00 and \u00e9"),
    ]
