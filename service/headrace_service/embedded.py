"""The embedded PostgreSQL (pgserver) kept in $HEADRACE_HOME, for a server with no database URL.

pgserver runs the bundled postgres binaries over a Unix socket inside the data folder, so nothing
listens on TCP and nothing needs installing by hand.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from headrace_service.errors import StartupError


@contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on the home folder: one server per home, the second says so."""
    home.mkdir(parents=True, exist_ok=True)
    lock_path = home / "server.lock"
    handle: IO[str] = open(lock_path, "a+")  # noqa: SIM115 - held for the server's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StartupError(
            f"a headrace server already runs on {home} (pid {holder}); stop it or set "
            "HEADRACE_HOME to another folder"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        handle.close()


@contextmanager
def embedded_postgres(home: Path) -> Iterator[str]:
    """Start (or reuse) the embedded PostgreSQL in home/postgres; yield its SQLAlchemy URL."""
    # platformdirs (under pgserver) warns about a missing XDG_RUNTIME_DIR on servers; harmless.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - the [server] extra brings it
        raise StartupError(
            "no HEADRACE_DATABASE_URL, and the embedded PostgreSQL needs the pgserver package "
            "(pip install 'headrace[server]'): set HEADRACE_DATABASE_URL or install it"
        ) from exc
    data_dir = home / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver's cleanup_mode="stop" stops postgres when the last process using it exits.
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield sqlalchemy_url_for_socket(str(data_dir))
    finally:
        server.cleanup()


def sqlalchemy_url_for_socket(socket_dir: str, database: str = "postgres") -> str:
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"
