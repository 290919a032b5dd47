"""Test harness: a real PostgreSQL, a fresh database per test, real HTTP servers.

The PostgreSQL is the embedded one (pgserver, started once per session in a short temporary
folder), or the server named by HEADRACE_TEST_DATABASE_URL. Each test that asks for a database
gets its own, cloned from a migrated template with CREATE DATABASE ... TEMPLATE (tens of
milliseconds), so tests may commit from many connections, LISTEN, and run real processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from headrace.client import HeadraceClient
from headrace.settings import client_settings

TEMPLATE = f"headrace_template_{os.getpid()}"

# A suite started in the background by a shell without job control (`cmd &` in a script, as a CI
# runner may) inherits SIGINT ignored, and an ignored signal stays ignored across exec: every
# script the tests start would ignore Ctrl-C, and the Ctrl-C tests would hang. A handler of our
# own here makes the processes we start begin with the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _clean_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Tests never see the developer's HEADRACE_* settings (except the test database URL), nor
    the profiles in their ~/.headrace."""
    for key in list(os.environ):
        if key.startswith("HEADRACE_") and not key.startswith("HEADRACE_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path_factory.mktemp("home")))
    client_settings.cache_clear()
    yield
    client_settings.cache_clear()


@dataclass
class PostgresServer:
    admin_url: str  # SQLAlchemy URL of a maintenance database on the server

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        engine = create_engine(
            self.admin_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    from headrace_service.db import sqlalchemy_url
    from headrace_service.embedded import sqlalchemy_url_for_socket
    from headrace_service.migrations import upgrade

    given = os.environ.get("HEADRACE_TEST_DATABASE_URL")
    folder = None
    server = None
    if given:
        admin = sqlalchemy_url(given)
    else:
        import pgserver

        # Short path: the Unix socket lives in it and socket paths are limited to ~100 bytes.
        folder = tempfile.mkdtemp(prefix="hrt-", dir="/tmp")
        server = pgserver.get_server(folder, cleanup_mode="stop")
        admin = sqlalchemy_url_for_socket(folder)
    pg = PostgresServer(admin)
    pg.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    pg.execute(f"CREATE DATABASE {TEMPLATE}")
    upgrade(pg.url_for(TEMPLATE))
    try:
        yield pg
    finally:
        pg.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        if server is not None:
            server.cleanup()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(postgres: PostgresServer) -> Iterator[str]:
    """A new database cloned from the migrated template, dropped on exit."""
    name = f"headrace_test_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield postgres.url_for(name)
    finally:
        postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    with fresh_database(postgres) as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str  # base URL of the API, ending in /api
    database_url: str
    settings: object


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    """Override in a test module to change the live server's settings."""
    return {}


@pytest.fixture
def live_server(
    database_url: str, tmp_path: object, server_settings_overrides: dict[str, object]
) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free port, in a thread of this process."""
    with serve_app(database_url, home=tmp_path, **server_settings_overrides) as server:
        yield server


@contextmanager
def serve_app(database_url: str, **settings_fields: object) -> Iterator[LiveServer]:
    """Serve the real app with these settings until the block ends (tests that restart a
    server, e.g. with other keys, use it directly)."""
    import uvicorn

    from headrace_service.app import create_app
    from headrace_service.settings import ServerSettings

    port = free_port()
    settings = ServerSettings(
        host="127.0.0.1",
        port=port,
        database_url=database_url,  # type: ignore[arg-type]
        **settings_fields,  # type: ignore[arg-type]
    )
    app = create_app(settings, database_url)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}/api", database_url, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def serve_in_thread(
    database_url: str, home: object, overrides: dict[str, object]
) -> contextlib.AbstractContextManager[LiveServer]:
    """The app under uvicorn on a free port in a daemon thread, stopped on exit (for fixtures
    of any scope)."""
    return serve_app(database_url, home=home, **overrides)


@pytest.fixture
def api_url(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a live server, also set as HEADRACE_API_URL for the SDK under test."""
    monkeypatch.setenv("HEADRACE_API_URL", live_server.url)
    client_settings.cache_clear()
    return live_server.url


@pytest.fixture
def client(api_url: str) -> Iterator[HeadraceClient]:
    with HeadraceClient(api_url, retries=0) as c:
        yield c


@pytest.fixture
def http(api_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client, for asserting raw status codes and bodies."""
    with httpx.Client(base_url=api_url, timeout=30) as c:
        yield c


@dataclass
class ServerProcess:
    """A real `headrace server start` subprocess."""

    process: subprocess.Popen[str]
    url: str
    home: str
    port: int

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


def headrace_command() -> list[str]:
    return [sys.executable, "-m", "headrace.cli.main"]


def wait_healthy(url: str, process: subprocess.Popen[str] | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}: {output[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not healthy after {timeout}s")


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start real server processes; each is stopped with SIGTERM at the end of the test.

    `start_server(home=None, database_url=None, port=None, **env)`: no database_url means the
    embedded PostgreSQL in `home` (a short new folder under /tmp when not given).
    """
    started: list[ServerProcess] = []
    homes: list[str] = []

    def start(
        home: str | None = None,
        database_url: str | None = None,
        port: int | None = None,
        wait: bool = True,
        **env: str,
    ) -> ServerProcess:
        if home is None:
            home = tempfile.mkdtemp(prefix="hrh-", dir="/tmp")
            homes.append(home)
        port = port or free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        environ.update(
            {"HEADRACE_HOME": home, **{f"HEADRACE_{k.upper()}": v for k, v in env.items()}}
        )
        if database_url:
            environ["HEADRACE_DATABASE_URL"] = database_url
        process = subprocess.Popen(
            [*headrace_command(), "server", "start", "--port", str(port)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        handle = ServerProcess(process, f"http://127.0.0.1:{port}/api", home, port)
        started.append(handle)
        if wait:
            wait_healthy(handle.url, process)
        return handle

    yield start
    for handle in started:
        handle.stop()
    for home in homes:
        shutil.rmtree(home, ignore_errors=True)
