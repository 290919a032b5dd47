"""The ready interpreter of the warm process runner: `python -m headrace_worker.zygote --fd N`.

A worker starts one (see `warm_launcher`). It imports headrace's engine, client and settings (and
the modules named by `--preload`) once, then waits on its control socket (fd N, a Unix
SOCK_SEQPACKET socket: one message per packet). For each request it forks a child that becomes
`python -m headrace.engine <run id>` in the run's folder and environment, with the first two pipes
that came with the request as its stdout and stderr and the third as its outcome pipe (see
headrace.engine.outcome_report). It answers `started` with the child's pid, and
`exited` with its exit code (negative: the signal) when it reaps it.

Why a fork is safe here: this process starts no thread and opens no connection (no HTTP client,
no database, no logging handler writing anywhere but stderr), so a child inherits no lock held by
a thread that does not exist in it and no socket shared with another run. It checks that before
it says it is ready. The entrypoint's module is imported by the child, after the fork: a flow
file changed on disk is picked up by the next run. Modules named by `--preload` are imported
here, before the fork: they are what makes a run start fast, and changing them needs a worker
restart.

It dies with its worker (parent-death signal) and each child dies with it, so killing the worker
kills every flow process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from headrace.engine.outcome_report import OUTCOME_FD_ENV
from headrace.startup_trace import mark
from headrace_worker.parent_death import die_with_parent

# A request is small (a run id, a folder and an environment); bounded so a bad one cannot
# exhaust memory.
MAX_MESSAGE_BYTES = 1 << 20
EXIT_SETUP_FAILED = 2
# With each request: the child's stdout, its stderr and its outcome pipe (engine.outcome_report).
REQUEST_FDS = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m headrace_worker.zygote")
    parser.add_argument("--fd", type=int, required=True, help="the control socket")
    parser.add_argument("--preload", default="", help="modules to import, comma-separated")
    parser.add_argument("--https", action="store_true", help="build the TLS context now")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.fd)
    problem = _warm_up([m.strip() for m in args.preload.split(",") if m.strip()], args.https)
    if problem is not None:
        _send(control, {"error": problem})
        return EXIT_SETUP_FAILED
    # Everything imported so far lives as long as the children: moved out of the collector's
    # reach, a child's garbage collections neither scan it nor write to (copy) its pages.
    gc.freeze()
    _send(control, {"ready": os.getpid()})
    return _serve(control)


def _warm_up(preload: list[str], https: bool) -> str | None:
    """Import what every run needs; a message saying what is wrong, or None."""
    # What `python -m headrace.engine` imports before the flow's first line runs.
    import headrace.client.flow_runs
    import headrace.engine.__main__
    import headrace.ports.api
    import headrace.settings
    from headrace.errors import SettingsError

    # Read once so pydantic-settings builds its sources (and imports tomllib for profiles)
    # here; each child reads its own environment again (the cache is cleared after the fork).
    with contextlib.suppress(SettingsError):  # the child reports it
        headrace.settings.client_settings()
    headrace.settings.client_settings.cache_clear()
    _warm_http()
    if https:
        from headrace.api_tls import verify_context

        verify_context(["https:"], None)  # the system store; a CA file is read in the child
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as error:
            return f"cannot preload module {name!r}: {type(error).__name__}: {error}"
    if threading.active_count() != 1:
        names = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
        return f"the preloaded modules started threads ({', '.join(names)}): forking is unsafe"
    return None


def _warm_http() -> None:
    """Import what httpx loads only when its first client is built (its transport: httpcore
    and h11) and sends its first request (the IDNA codec): 30 ms a run on a quiet machine, 90
    under load, otherwise paid again in every child. The client is closed before it opens a
    connection, so the ready interpreter still holds none."""
    import encodings.idna  # noqa: F401 - the codec httpx encodes host names with

    import httpx

    httpx.Client(verify=False).close()  # verify=False: no certificates loaded for nothing


def _serve(control: socket.socket) -> int:
    """Fork a child per request and report how children end, until the worker closes the
    socket (or dies)."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    # A handler (not SIG_DFL) so that SIGCHLD writes to the wakeup fd.
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # The worker's Ctrl-C reaches its process group; the worker decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    closing = (control.fileno(), wake_read, wake_write)
    while True:
        readable, _, _ = select.select([control.fileno(), wake_read], [], [])
        if wake_read in readable:
            while True:
                try:
                    if not os.read(wake_read, 512):
                        break
                except BlockingIOError:
                    break
        _reap(control)
        if control.fileno() in readable:
            message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE_BYTES, REQUEST_FDS)
            if not message:
                return 0  # the worker closed its end
            try:
                _start_child(control, json.loads(message), fds, closing)
            finally:
                for fd in fds:
                    os.close(fd)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _start_child(
    control: socket.socket, request: dict[str, Any], fds: list[int], closing: tuple[int, ...]
) -> None:
    number = request.get("request")
    mark("zygote-request", request.get("run_id"))
    if len(fds) != REQUEST_FDS:
        _send(control, {"request": number, "error": "the request came without its three pipes"})
        return
    zygote = os.getpid()
    try:
        pid = os.fork()
    except OSError as error:
        _send(control, {"request": number, "error": f"fork failed: {error}"})
        return
    if pid == 0:
        # The child: never returns into this loop.
        code = EXIT_SETUP_FAILED
        try:
            code = _become_run(request, fds, closing, zygote)
        finally:
            os._exit(code)
    _send(control, {"request": number, "pid": pid})


def _become_run(
    request: dict[str, Any], fds: list[int], closing: tuple[int, ...], zygote: int
) -> int:
    """In the child: become `python -m headrace.engine <run id>` as the spawn runner starts it."""
    mark("child-forked", request["run_id"])
    try:
        # Its own session and process group: cancelling signals the whole group.
        os.setsid()
        die_with_parent(zygote)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        # A copy of its own (not inheritable: the flow's subprocesses do not get it).
        outcome = os.dup(fds[2])
        for fd in (devnull, *fds, *closing):
            os.close(fd)
        folder = request["cwd"]
        os.chdir(folder)
        # The run's environment, and nothing of the worker's that the request does not carry.
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[OUTCOME_FD_ENV] = str(outcome)
        # As `python -m` in that folder: it comes first on the import path.
        sys.path[0] = folder
        sys.argv = ["headrace.engine", request["run_id"]]
        importlib.invalidate_caches()
        from headrace.settings import client_settings

        client_settings.cache_clear()  # read from the run's environment, not the zygote's
    except Exception:
        traceback.print_exc()
        return EXIT_SETUP_FAILED
    mark("child-ready", request["run_id"])
    return _run_engine(request["run_id"])


def _run_engine(run_id: str) -> int:
    """Run the engine and end as an interpreter does: exit handlers, non-daemon threads."""
    from headrace.engine.__main__ import main as engine_main

    try:
        code = _exit_code(engine_main([run_id]))
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    # What the interpreter does at exit: wait for the non-daemon threads the flow started,
    # run the exit handlers (the engine's reporter sends what it buffered), flush.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    # OSError: the worker is gone; the loop ends on the next read.
    with contextlib.suppress(OSError):
        control.send(json.dumps(message).encode())


if __name__ == "__main__":
    sys.exit(main())
