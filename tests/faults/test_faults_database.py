"""The database restarted under a running system: the embedded PostgreSQL of a real
`headrace server start` is restarted in immediate mode (a crash, as far as clients can tell)
while a flow script, and workers with their flow processes, send states and logs through it."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

POOL_TIMEOUT = 2.0
OUTAGE = 3.0  # seconds the database stays down
STEPS = 24  # of the script, 0.25 s each: the flow spans the outage
# Runs in flight through real workers when the database goes down (the figure); each is
# a Python process, so HEADRACE_TEST_OUTAGE_RUNS=20 makes a quicker check on a slow machine.
OUTAGE_RUNS = int(os.environ.get("HEADRACE_TEST_OUTAGE_RUNS", "100"))
WORKERS = 2
FLOW_STEPS = 5  # 0.2 s each, a log line and a task run each
# Leases outlast the outage: a worker that cannot heartbeat while the database is down must
# not see its runs rescued the moment it is back.
WORKER_SERVER = {
    "db_pool_timeout_seconds": str(POOL_TIMEOUT),
    "lease_seconds": "15",
    "heartbeat_seconds": "0.5",
    "reaper_interval_seconds": "0.5",
    "log_level": "warning",
}


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


class Prober:
    """A thread asking the API every 50 ms for a page of runs and, once it has seen one, for
    that run (the two reads take different paths to the database) in turn; records (sent,
    outcome, took)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.probes: list[tuple[float, str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)
        self._thread.start()

    def _probe(self) -> None:
        paths = ["/flow_runs?limit=1"]
        with httpx.Client(base_url=self.url, timeout=POOL_TIMEOUT + 5) as http:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    answer = http.get(paths[len(self.probes) % len(paths)])
                    outcome = str(answer.status_code)
                    if len(paths) == 1 and answer.status_code == 200 and answer.json()["items"]:
                        paths.append(f"/flow_runs/{answer.json()['items'][0]['id']}")
                    if answer.status_code == 503 and not answer.headers.get("retry-after"):
                        outcome = "503 without Retry-After"
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                self.probes.append((sent, outcome, time.monotonic() - sent))
                time.sleep(0.05)

    def first_success_after(self, back: float, timeout: float) -> float:
        """Seconds from `back` to the end of the first 200 sent after it."""
        deadline = back + timeout
        while True:
            answered = [s + took - back for s, o, took in self.probes if s > back and o == "200"]
            if answered:
                return min(answered)
            assert time.monotonic() < deadline, self.probes[-5:]
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def summary(self) -> str:
        outcomes = sorted({o for _, o, _ in self.probes})
        unavailable = sum(1 for _, o, _ in self.probes if o == "503")
        slowest = max(took for _, _, took in self.probes)
        return f"probes {outcomes} ({unavailable} x 503, slowest answer {slowest:.2f} s)"

    def assert_503_or_200_in_time(self) -> None:
        """While the database is down the API says so at once: no 500, no hang."""
        outcomes = {o for _, o, _ in self.probes}
        assert outcomes <= {"200", "503"}, outcomes
        assert max(took for _, _, took in self.probes) < POOL_TIMEOUT + 2.0


def running_flows(entries: list[dict[str, Any]], at: float) -> set[str]:
    """Runs whose flow body had started and not ended at `at` (wall clock), by the ledger."""
    started = {e["run"] for e in entries if e["event"] == "start" and e["t"] < at}
    return started - {e["run"] for e in entries if e["event"] == "end" and e["t"] < at}


def state_times(run: dict[str, Any], name: str) -> list[float]:
    """When the run entered states named `name` (wall clock, stamped by the server)."""
    return [
        datetime.fromisoformat(state["timestamp"]).timestamp()
        for state in run["states"]
        if state["name"] == name
    ]


def drain(process: subprocess.Popen[str]) -> None:
    """Read the server's output so a full pipe never blocks it (the fixture pipes it)."""
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()


def test_10_a_postgres_restart_is_503_then_recovers_and_loses_no_state_or_log(
    start_server: Any, stepping_script: Any
) -> None:
    server = start_server(db_pool_timeout_seconds=str(POOL_TIMEOUT), log_level="warning")
    drain(server.process)
    script = stepping_script(server.url, STEPS)
    script.wait_started()
    time.sleep(1.0)  # a few steps reported before the outage

    prober = Prober(server.url)
    restart_started = time.monotonic()
    crash_postgres(server.home, OUTAGE)
    back = time.monotonic()
    recovered = prober.first_success_after(back, timeout=10)
    prober.stop()
    script.finish()
    print(
        f"\n10: postgres down for {back - restart_started:.2f} s; {prober.summary()}; "
        f"API back {recovered:.2f} s after postgres"
    )
    prober.assert_503_or_200_in_time()
    assert recovered < 10
    script.assert_all_recorded()


def test_10_workers_and_their_runs_ride_out_a_postgres_restart(
    start_server: Any,
    tmp_path: Path,
    make_ledger_stack: Any,
    add_steady_flow: Any,
    ledger: Any,
    ledger_faults: Any,
) -> None:
    """100 runs in flight through two real workers: some done, some running (their flow
    processes sending task runs and logs), most still queued, when the database crashes."""
    server = start_server(**WORKER_SERVER)
    drain(server.process)
    with make_ledger_stack(server.url, tmp_path) as stack:
        add_steady_flow(stack)
        deployment = stack.deploy("steady")
        for _ in range(WORKERS):
            stack.start_worker("--pool", stack.pool)
        runs = [stack.run(deployment, steps=FLOW_STEPS, pause=0.2) for _ in range(OUTAGE_RUNS)]
        deadline = time.monotonic() + 60
        while len(running_flows(ledger(stack.folder), time.time())) < 5:
            assert time.monotonic() < deadline, stack.worker_output(0)[-3000:]
            time.sleep(0.02)

        prober = Prober(server.url)
        restart_started, crashed_at = time.monotonic(), time.time()
        crash_postgres(server.home, OUTAGE)
        back, back_at = time.monotonic(), time.time()
        api_back = prober.first_success_after(back, timeout=10)
        prober.stop()
        before = ledger(stack.folder)
        started = {e["run"] for e in before if e["event"] == "start" and e["t"] < crashed_at}
        in_flight = running_flows(before, crashed_at)

        finished = [stack.wait_state(run_id, timeout=60) for run_id in runs]
        task_runs = {r: stack.http.get(f"/flow_runs/{r}/task_runs").json() for r in runs}
        logs = {r: stack.http.get(f"/flow_runs/{r}/logs", params={"limit": 1000}) for r in runs}
        assert all(worker.poll() is None for worker in stack.workers)
        entries = ledger(stack.folder)
    # Recovery as the database saw it (state rows are stamped by the server at commit): polling
    # 100 runs through an API busy with the catch-up would measure the polling.
    workers_back = min(t for r in finished for t in state_times(r, "Pending") if t > back_at)
    workers_back -= back_at  # the first claim after the restart
    # The flows caught by the outage whose final state had to wait for the database.
    sdk_back = sorted(
        end - back_at
        for r in finished
        if r["id"] in in_flight and (end := state_times(r, r["state_name"])[-1]) > back_at
    )
    assert sdk_back, "no flow had to wait for the database: the test proves little"
    print(
        f"\n10 (workers): {len(runs)} runs, {len(started)} started and {len(in_flight)} "
        f"running when postgres went down for {back - restart_started:.2f} s; "
        f"{prober.summary()}; after postgres was back: API {api_back:.2f} s, first claim "
        f"{workers_back:.2f} s, final states of the {len(sdk_back)} flows that waited for it "
        f"{sdk_back[0]:.2f}-{sdk_back[-1]:.2f} s"
    )
    prober.assert_503_or_200_in_time()
    assert api_back < 10 and workers_back < 10 and sdk_back[-1] < 10
    assert [r["state_type"] for r in finished] == ["COMPLETED"] * len(runs), [
        (r["id"], r["state_type"], r["state_name"])
        for r in finished
        if r["state_type"] != "COMPLETED"
    ]
    assert all(r["run_count"] == 1 for r in finished)
    assert not ledger_faults(entries), ledger_faults(entries)
    assert {e["run"] for e in entries} == set(runs)
    for run_id in runs:
        assert sorted(t["state_type"] for t in task_runs[run_id]) == ["COMPLETED"] * FLOW_STEPS
        messages = {entry["message"] for entry in logs[run_id].json()["items"]}
        assert {f"step {i}" for i in range(FLOW_STEPS)} <= messages, (run_id, sorted(messages))
    # No worker took a flow process that had just reported its final state for one whose lease
    # was lost (it used to SIGKILL it, cutting its hooks and last log lines).
    for index in range(len(stack.workers)):
        assert "lease lost" not in stack.worker_output(index), stack.worker_output(index)[-2000:]
