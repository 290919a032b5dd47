"""A real `headrace server start` and a real worker whose database is reached through PgBouncer,
in session mode (LISTEN/NOTIFY works) and in transaction mode (claims poll; no prepared
statements; the loops' advisory locks are transaction-level, so their leaders still behave).

Every test here gets its database through a PgBouncer of its own: the `database_url` fixture is
overridden below to hand out the PgBouncer's URL instead of the database's.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from headrace_service.db import Database, create_engine
from headrace_service.loops import scheduler as scheduler_loop

pytestmark = pytest.mark.slow

# Debian puts pgbouncer in /usr/sbin, which is not on every user's PATH.
PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(p, os.X_OK)),
    None,
)
if PGBOUNCER is None:
    reason = "these tests need PgBouncer: apt-get install -y pgbouncer"
    if os.environ.get("HEADRACE_REQUIRE_TOOLS") == "1":
        raise RuntimeError(reason)
    pytestmark = [pytestmark, pytest.mark.skip(reason=reason)]  # type: ignore[assignment]

# Fewer server connections than the API has client connections in transaction mode, so that
# clients share them (a prepared statement left on one would be seen by another).
SERVER_CONNECTIONS = {"session": 20, "transaction": 2}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pgbouncer_ini(target_url: str, mode: str, port: int) -> str:
    """A PgBouncer config that serves the database of `target_url` as `headrace`."""
    url = make_url(target_url)
    host = url.host or str(url.query.get("host", ""))  # pgserver: the socket folder
    target = f"host={host} port={url.port or 5432} dbname={url.database} user={url.username}"
    if url.password:
        target += f" password={url.password}"
    return (
        "[databases]\n"
        f"headrace = {target}\n"
        # The same database in session mode, whatever the default: for the LISTEN connection.
        f"headrace_listen = {target} pool_mode=session\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        # Every client logs in as the database line's user: no password file needed.
        "auth_type = any\n"
        f"pool_mode = {mode}\n"
        f"default_pool_size = {SERVER_CONNECTIONS[mode]}\n"
    )


def unprivileged_user(target_url: str) -> str:
    """PgBouncer refuses to run as root (CI containers): it reads its config, then becomes this
    user, the owner of the database's socket folder (pgserver's) or else nobody."""
    socket_folder = str(make_url(target_url).query.get("host", ""))
    owner = pwd.getpwuid(os.stat(socket_folder).st_uid).pw_name if socket_folder else "root"
    return "nobody" if owner == "root" else owner


@pytest.fixture
def database_url(
    database_url: str, pool_mode: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The test's own database (the conftest's fixture), through a PgBouncer in `pool_mode`."""
    assert PGBOUNCER is not None
    folder = tmp_path_factory.mktemp("pgbouncer")
    port = free_port()
    config = folder / "pgbouncer.ini"
    config.write_text(pgbouncer_ini(database_url, pool_mode, port))
    as_user = ["-u", unprivileged_user(database_url)] if os.geteuid() == 0 else []
    log_path = folder / "pgbouncer.log"
    with open(log_path, "w") as log:
        bouncer = subprocess.Popen(
            [PGBOUNCER, *as_user, str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert bouncer.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"postgresql://postgres@127.0.0.1:{port}/headrace"
    finally:
        bouncer.terminate()
        bouncer.wait(10)


def seconds_to_claim_a_new_run(stack: Any, deployment: str, wait_seconds: float) -> float:
    """A long-poll claim waits on an empty pool; a run is created: how long until it returned
    with that run."""
    worker = stack.http.post(f"/work_pools/{stack.pool}/workers/heartbeat", json={"name": "w"})
    worker_id = worker.json()["worker_id"]
    result: dict[str, Any] = {}

    def claim() -> None:
        response = httpx.post(
            f"{stack.url}/work_pools/{stack.pool}/claim",
            json={"worker_id": worker_id, "wait_seconds": wait_seconds},
            timeout=wait_seconds + 30,
        )
        result["returned"] = time.monotonic()
        result["runs"] = [item["flow_run"]["id"] for item in response.json()]

    thread = threading.Thread(target=claim, daemon=True)
    thread.start()
    time.sleep(0.5)  # the claim is waiting by now
    created = time.monotonic()
    run = stack.http.post(f"/deployments/name/{deployment}/runs", json={}).json()
    thread.join(wait_seconds + 30)
    assert result["runs"] == [run["id"]]
    seconds: float = result["returned"] - created
    return seconds


def wait_completed(stack: Any, run_ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    while pending:
        states = {}
        for run_id in pending:
            response = stack.http.get(f"/flow_runs/{run_id}")
            assert response.status_code == 200, response.text
            states[run_id] = response.json()["state_type"]
        assert "FAILED" not in states.values() and "CRASHED" not in states.values(), states
        pending = {run_id for run_id, state in states.items() if state != "COMPLETED"}
        assert time.monotonic() < deadline, f"not completed after {timeout}s: {states}"
        time.sleep(0.2)


def server_output(stack: Any) -> str:
    stack.server.stop()
    output: str = stack.server.process.stdout.read()
    return output


@pytest.mark.parametrize("pool_mode", ["session"])
def test_session_mode_runs_flows_and_wakes_claims_with_notify(
    deployment_stack: Callable[..., Any],
) -> None:
    # A poll interval far longer than the test's bound: only a NOTIFY can wake the claim.
    stack = deployment_stack(database_pooler="session", claim_fallback_poll_seconds="60")
    deployment = stack.deploy("greet")

    assert seconds_to_claim_a_new_run(stack, deployment, wait_seconds=30) < 5, (
        "the claim was not woken by LISTEN/NOTIFY"
    )

    stack.start_worker()
    runs = [
        stack.http.post(f"/deployments/name/{deployment}/runs", json={}).json()["id"]
        for _ in range(3)
    ]
    wait_completed(stack, runs)
    assert "Traceback" not in server_output(stack)


@pytest.mark.parametrize("pool_mode", ["transaction"])
def test_transaction_mode_polls_claims_and_prepares_nothing(
    deployment_stack: Callable[..., Any],
) -> None:
    poll = 0.5
    stack = deployment_stack(database_pooler="transaction", claim_fallback_poll_seconds=str(poll))
    deployment = stack.deploy("greet")

    assert seconds_to_claim_a_new_run(stack, deployment, wait_seconds=20) < poll + 2, (
        "the claim did not poll"
    )

    # Enough runs that every statement of the queue runs far more than 5 times (when psycopg
    # would prepare it), over the API's 10 connections sharing PgBouncer's 2.
    stack.start_worker()
    runs = [
        stack.http.post(f"/deployments/name/{deployment}/runs", json={}).json()["id"]
        for _ in range(12)
    ]
    wait_completed(stack, runs, timeout=120)
    output = server_output(stack)
    assert "prepared statement" not in output and "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize("pool_mode", ["transaction"])
def test_transaction_mode_with_a_session_mode_listen_url_wakes_claims_with_notify(
    deployment_stack: Callable[..., Any], database_url: str
) -> None:
    stack = deployment_stack(
        database_pooler="transaction",
        listen_database_url=database_url.replace("/headrace", "/headrace_listen"),
        claim_fallback_poll_seconds="60",
    )
    deployment = stack.deploy("greet")
    assert seconds_to_claim_a_new_run(stack, deployment, wait_seconds=30) < 5, (
        "the claim was not woken by LISTEN/NOTIFY"
    )


@pytest.mark.parametrize("pool_mode", ["transaction"])
def test_transaction_mode_keeps_one_loop_leader(database_url: str) -> None:
    """The loops elect their leader with a transaction-level advisory lock: it holds across
    PgBouncer's transaction pooling (a session-level lock would not)."""

    async def passes() -> tuple[bool, bool]:
        engine = create_engine(database_url, pool_size=2, pool_timeout=10, pooler="transaction")
        db = Database(engine)
        try:
            async with db.begin() as other_replica:  # a pass of another replica in progress
                await other_replica.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": scheduler_loop.SCHEDULER_LOCK_KEY},
                )
                while_held = await scheduler_loop.run_once(db)
            after = await scheduler_loop.run_once(db)
            return while_held.leader, after.leader
        finally:
            await db.dispose()

    assert asyncio.run(passes()) == (False, True)
