"""`headrace event` as real processes against a live server: stream, emit, ls."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

from tests.e2e.conftest import HEADRACE
from tests.e2e.test_cli_bad_input import assert_one_line_error, run_cli

# Exits at once: what it emitted is sent at exit, from a plain script and from a flow.
EMITTER = """
from headrace import flow
from headrace.events import emit_event
emit_event(event="cli.from.python", resource={"headrace.resource.id": "py.proc"},
           payload={"n": 2})

@flow
def emitting():
    emit_event(event="cli.from.flow", resource={"headrace.resource.id": "flow.proc"})

emitting()
"""


def _env(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_API_URL"] = api_url
    return env


def _lines(stream: object) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_stream_sees_events_emitted_by_other_processes(api_url: str) -> None:
    streaming = subprocess.Popen(
        [*HEADRACE, "event", "stream", "--name", "cli."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(api_url),
    )
    out, err = _lines(streaming.stdout), _lines(streaming.stderr)
    try:
        assert err.get(timeout=60) == "Streaming events (Ctrl-C to stop)"
        emitted = run_cli(
            "event",
            "emit",
            "cli.test.done",
            "--resource-id",
            "cli.res",
            "--label",
            "team=data",
            "--payload",
            '{"rows": 3}',
            api_url=api_url,
        )
        assert emitted.returncode == 0, emitted.stderr
        line = out.get(timeout=20)
        assert "cli.test.done" in line and "cli.res" in line and '{"rows":3}' in line
        # Not matching the filter: never printed.
        assert run_cli("event", "emit", "other.thing", "--resource-id", "x", api_url=api_url)
        subprocess.run([sys.executable, "-c", EMITTER], env=_env(api_url), check=True, timeout=60)
        line = out.get(timeout=20)
        assert "cli.from.python" in line and "py.proc" in line and '{"n":2}' in line
        line = out.get(timeout=20)
        assert "cli.from.flow" in line and "flow.proc" in line
        assert out.empty()
    finally:
        streaming.send_signal(signal.SIGINT)
        code = streaming.wait(20)
    assert code == 0  # Ctrl-C is a clean exit, without a traceback
    rest = [err.get(timeout=5) for _ in range(err.qsize())]
    assert not any("Traceback" in line for line in rest), rest

    listed = run_cli("event", "ls", "--label", "team=data", "--json", api_url=api_url)
    assert [e["event"] for e in json.loads(listed.stdout)] == ["cli.test.done"]
    shown = run_cli("event", "ls", "--name", "cli.", api_url=api_url)
    assert "cli.from.python" in shown.stdout and "cli.test.done" in shown.stdout
    since = run_cli(
        "event",
        "ls",
        "--name",
        "cli.",
        "--since",
        "2000-01-01T00:00:00Z",
        "--json",
        api_url=api_url,
    )
    assert len(json.loads(since.stdout)) == 3, since.stderr
    until = run_cli("event", "ls", "--until", "2000-01-01T00:00:00Z", "--json", api_url=api_url)
    assert json.loads(until.stdout) == []


def test_bad_event_input_is_one_line_error() -> None:
    assert_one_line_error(
        run_cli("event", "emit", "x", "--resource-id", "r", "--payload", "[1]"), "--payload"
    )
    assert_one_line_error(
        run_cli("event", "emit", "x", "--resource-id", "r", "--label", "nope"), "--label"
    )
    assert_one_line_error(run_cli("event", "ls", "--limit", "5000"), "limit")
    assert_one_line_error(run_cli("event", "ls", "--since", "yesterday"), "--since")


def test_emit_without_the_api_never_blocks_and_says_what_was_lost() -> None:
    script = (
        "import time\n"
        "from headrace.events import emit_event\n"
        "started = time.monotonic()\n"
        "for i in range(100):\n"
        "    emit_event(event='x.y', resource={'headrace.resource.id': f'r{i}'})\n"
        "print(round(time.monotonic() - started, 3))\n"
    )
    env = _env("http://127.0.0.1:9/api")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.0  # 100 emits queued, none waited for the API
    assert "100 events were not sent" in done.stderr
    assert "Traceback" not in done.stderr
