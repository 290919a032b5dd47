"""`headrace server start`: the database (embedded or given), migrations, then uvicorn."""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import uvicorn
from sqlalchemy import create_engine, exc, pool, text

from headrace_service import migrations
from headrace_service.app import create_app
from headrace_service.auth import check_bind_is_safe
from headrace_service.bootstrap_key import register_bootstrap_key
from headrace_service.db import sqlalchemy_url
from headrace_service.embedded import embedded_postgres, home_lock
from headrace_service.errors import StartupError
from headrace_service.logs import announce, configure_logging, uvicorn_log_level
from headrace_service.request_guard import guard_policy
from headrace_service.settings import ServerSettings
from headrace_service.tls import tls_files

log = logging.getLogger("headrace.server")


@contextmanager
def database(settings: ServerSettings) -> Iterator[str]:
    """The database URL to use: the configured one, else the embedded PostgreSQL."""
    if settings.database_url:
        try:
            url = sqlalchemy_url(settings.database_url)
        except ValueError as error:
            raise StartupError(f"HEADRACE_DATABASE_URL: {error}") from None
        wait_reachable(url, settings.database_wait_seconds)
        yield url
        return
    with embedded_postgres(settings.home_path()) as url:
        yield url


def wait_reachable(url: str, wait_seconds: float) -> None:
    """Retry until the database answers: under compose or systemd it may start after us."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            check_reachable(url)
            return
        except StartupError as error:
            if time.monotonic() >= deadline:
                raise
            log.warning("%s; retrying for up to %.0f s", error, deadline - time.monotonic())
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def check_reachable(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except exc.OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StartupError(f"cannot connect to the database: {first_line}") from None
    finally:
        engine.dispose()


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise StartupError(
                f"cannot listen on {host}:{port}: {error.strerror}; is another server running? "
                "Use --port to pick another port"
            ) from None


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(settings: ServerSettings) -> None:
    configure_logging(settings)
    check_bind_is_safe(settings)
    tls = tls_files(settings)
    if guard_policy(settings).hosts is None and not settings.auth_enabled:
        log.warning(
            "answering to any host name without auth: a web page that points its own domain "
            "at this server (DNS rebinding) can use it; list its names in HEADRACE_ALLOWED_HOSTS"
        )
    # The embedded database belongs to one server; replicas on a shared database need no lock.
    lock = nullcontext() if settings.database_url else home_lock(settings.home_path())
    with lock:
        check_port_free(settings.host, settings.port)
        with database(settings) as url:
            migrations.upgrade(url)
            if settings.bootstrap_api_key is not None:
                register_bootstrap_key(url, settings.bootstrap_api_key.get_secret_value())
            app = create_app(settings, url)
            announce(
                settings,
                f"headrace server on {'https' if tls else 'http'}://{settings.host}:"
                f"{settings.port} "
                f"(API at /api, dashboard at /)",
            )
            # uvicorn re-raises the signal that stopped it once it has shut down; exiting
            # through SystemExit instead lets the context managers stop the embedded Postgres
            # and release the home lock.
            signal.signal(signal.SIGTERM, _exit_cleanly)
            signal.signal(signal.SIGINT, _exit_cleanly)
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_level=uvicorn_log_level(settings),
                log_config=None,  # uvicorn's loggers go through configure_logging's handler
                access_log=False,
                # X-Forwarded-Proto/-For are believed from these proxies only: the login
                # cookie is Secure when the proxy in front terminated TLS.
                proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips,
                # Open dashboard tabs hold SSE streams; do not let them stall a shutdown.
                timeout_graceful_shutdown=5,
                ssl_certfile=str(tls[0]) if tls else None,
                ssl_keyfile=str(tls[1]) if tls else None,
            )
