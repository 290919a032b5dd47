"""The database restarted under a running system: the embedded PostgreSQL of a real
`headrace server start` is restarted in immediate mode (a crash, as far as clients can tell)
while a flow script sends states and logs through it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

POOL_TIMEOUT = 2.0
OUTAGE = 3.0  # seconds the database stays down
STEPS = 24  # 0.25 s each: the flow spans the outage

SCRIPT = """
import json
import os
import sys
import time
from pathlib import Path

from headrace import flow, get_run_context, get_run_logger, task

READY, LEDGER = Path(sys.argv[1]), Path(sys.argv[2])


@task
def step(i: int) -> int:
    get_run_logger().info(f"step {i}")
    time.sleep(0.25)
    return i


@flow
def through_outage(steps: int) -> int:
    run_id = str(get_run_context().flow_run_id)
    entry = {"run": run_id, "attempt": 1, "pid": os.getpid(), "start": time.time()}
    READY.write_text(run_id)
    total = sum(step(i) for i in range(steps))
    with open(LEDGER, "a") as ledger:
        ledger.write(json.dumps({**entry, "end": time.time()}) + "\\n")
    return total


if __name__ == "__main__":
    through_outage(int(sys.argv[3]))
"""


def pg_ctl(home: str, *args: str) -> None:
    """pg_ctl on the server's embedded data folder, as pgserver runs it (as user pgserver when
    we are root)."""
    import pgserver

    binary = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    data = f"{home}/postgres"
    # No pipes: the postmaster inherits them and pg_ctl would wait for it to close them.
    subprocess.run(
        [str(binary), "-D", data, "-l", f"{data}/restart.log", "-w", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        user="pgserver" if os.geteuid() == 0 else None,
    )


def crash_postgres(home: str, down_for: float) -> None:
    """Stop the embedded PostgreSQL in immediate mode (a crash, as far as clients can tell),
    keep it down for `down_for` seconds, and start it again with the options it had (its
    socket folder): what `pg_ctl restart -m immediate` does, with a longer outage."""
    opts = shlex.split(Path(f"{home}/postgres/postmaster.opts").read_text())[1:]
    for flag in ("-D",):  # pg_ctl passes the data folder itself
        if flag in opts:
            at = opts.index(flag)
            del opts[at : at + 2]
    pg_ctl(home, "-m", "immediate", "stop")
    time.sleep(down_for)
    pg_ctl(home, "-o", shlex.join(opts), "start")


def drain(process: subprocess.Popen[str]) -> None:
    """Read the server's output so a full pipe never blocks it (the fixture pipes it)."""
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()


def test_10_a_postgres_restart_is_503_then_recovers_and_loses_no_state_or_log(
    start_server: Any, tmp_path: Path
) -> None:
    server = start_server(db_pool_timeout_seconds=str(POOL_TIMEOUT), log_level="warning")
    drain(server.process)
    ready, ledger = tmp_path / "ready", tmp_path / "ledger.jsonl"
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL=server.url, HEADRACE_HOME=str(tmp_path / "client-home"))
    script = subprocess.Popen(
        [sys.executable, str(tmp_path / "script.py"), str(ready), str(ledger), str(STEPS)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text()):
            assert script.poll() is None, script.communicate()[0]
            assert time.monotonic() < deadline, "the flow did not start"
            time.sleep(0.05)
        run_id = ready.read_text()
        time.sleep(1.0)  # a few steps reported before the outage

        probes: list[tuple[float, str, float]] = []
        stop = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=server.url, timeout=POOL_TIMEOUT + 5) as http:
                while not stop.is_set():
                    sent = time.monotonic()
                    try:
                        answer = http.get("/flow_runs", params={"limit": 1})
                        outcome = str(answer.status_code)
                        if answer.status_code == 503:
                            assert answer.headers.get("retry-after"), answer.headers
                    except httpx.TransportError as error:
                        outcome = type(error).__name__
                    probes.append((sent, outcome, time.monotonic() - sent))
                    time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        restart_started = time.monotonic()
        crash_postgres(server.home, OUTAGE)
        back = time.monotonic()
        deadline = back + 10
        while not any(s > back and o == "200" for s, o, _ in probes):
            assert time.monotonic() < deadline, probes[-5:]
            time.sleep(0.05)
        stop.set()
        prober.join(10)
        recovered = min(s + took for s, o, took in probes if s > back and o == "200") - back

        output, _ = script.communicate(timeout=60)
        assert script.returncode == 0, output[-3000:]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            run = http.get(f"/flow_runs/{run_id}").json()
            task_runs = http.get(f"/flow_runs/{run_id}/task_runs").json()
            logs = http.get(f"/flow_runs/{run_id}/logs", params={"limit": 10_000}).json()
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(5)
    outcomes = sorted({o for _, o, _ in probes})
    slowest = max(took for _, _, took in probes)
    unavailable = sum(1 for _, o, _ in probes if o == "503")
    print(
        f"\n10: postgres down for {back - restart_started:.2f} s; probes {outcomes} "
        f"({unavailable} x 503, slowest answer {slowest:.2f} s); API back {recovered:.2f} s "
        "after postgres"
    )
    assert set(outcomes) <= {"200", "503"}, outcomes
    assert slowest < POOL_TIMEOUT + 2.0
    assert recovered < 10
    assert run["state_type"] == "COMPLETED", run
    assert sorted(t["state_type"] for t in task_runs) == ["COMPLETED"] * STEPS
    messages = {entry["message"] for entry in logs["items"]}
    assert {f"step {i}" for i in range(STEPS)} <= messages, sorted(messages)
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [e["run"] for e in entries] == [run_id]  # the flow body ran once, start to end
