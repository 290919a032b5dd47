"""The worker's side of the warm process runner (`--start-method fork`): it keeps one ready
interpreter (`headrace_worker.zygote`, headrace already imported) and asks it to fork each run's
flow process, so a run starts in milliseconds instead of paying an interpreter's start and
headrace's imports.

The ready interpreter is started by a thread of its own that lives as long as it (its
parent-death signal fires when that thread ends), and that thread reads everything it says: the
pid of each child it forked, and each child's exit code when it reaps it. Each request carries
three pipes (sent as file descriptors over the Unix socket): two become the child's stdout and
stderr, so output is forwarded to the run's logs exactly as with a spawned process, and the third
its outcome pipe (headrace.engine.outcome_report). If the ready
interpreter dies, its children die with it (their own parent-death signal); their runs are
reported Crashed and the next run starts a new one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headrace_worker.launchers import FlowProcess, ProcessLost
from headrace_worker.parent_death import die_with_this_process
from headrace_worker.zygote import MAX_MESSAGE_BYTES

# Importing headrace and the preloaded modules: a heavy preload (pandas) on a busy host is slow.
READY_TIMEOUT_SECONDS = 120.0
# A fork answers in milliseconds; this only bounds a wedged ready interpreter.
FORK_TIMEOUT_SECONDS = 30.0

_logger = logging.getLogger("headrace.worker")


class ForkedProcess:
    """A flow process forked by the ready interpreter; its exit code comes from there."""

    def __init__(self, pid: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdout: IO[bytes] = os.fdopen(stdout, "rb")
        self.stderr: IO[bytes] = os.fdopen(stderr, "rb")
        self._ended = threading.Event()
        self._code: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._ended.wait(timeout):
            return None
        if self._code is None:
            raise ProcessLost("the worker's ready interpreter exited and took it along")
        return self._code

    def ended(self, code: int | None) -> None:
        self._code = code
        self._ended.set()


@dataclass
class _Request:
    stdout: int
    stderr: int
    answered: threading.Event = field(default_factory=threading.Event)
    process: ForkedProcess | None = None
    error: str | None = None


class ReadyInterpreter:
    """One `python -m headrace_worker.zygote` and what it forked."""

    def __init__(self, preload: list[str], https: bool) -> None:
        self.problem: str | None = None
        self._ready = threading.Event()
        self._dead = False
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._numbers = itertools.count()
        self._requests: dict[int, _Request] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-u", "-m", "headrace_worker.zygote"]
        command += ["--fd", str(theirs.fileno()), "--preload", ",".join(preload)]
        if https:
            command.append("--https")
        threading.Thread(
            target=self._keep,
            args=(command, theirs),
            name="headrace-ready-interpreter",
            daemon=True,
        ).start()

    @property
    def dead(self) -> bool:
        return self._dead

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> str | None:
        """None once it is ready; else why it cannot serve."""
        if not self._ready.wait(timeout):
            return f"the ready interpreter did not start within {timeout:g} s"
        return self.problem

    def launch(
        self, run_id: str, folder: Path, env: dict[str, str], outcome_fd: int
    ) -> ForkedProcess:
        problem = self.wait_ready()
        if problem is not None:
            raise OSError(problem)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        request = _Request(out_read, err_read)
        with self._lock:
            number = next(self._numbers)
            self._requests[number] = request
            dead = self._dead
        try:
            if dead:
                raise OSError("the ready interpreter exited")
            payload = {"request": number, "run_id": run_id, "cwd": str(folder), "env": env}
            with self._send_lock:
                socket.send_fds(
                    self._socket,
                    [json.dumps(payload).encode()],
                    [out_write, err_write, outcome_fd],
                )
        except OSError:
            self._forget(number, request)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        if not request.answered.wait(FORK_TIMEOUT_SECONDS):
            request.error = f"the ready interpreter did not fork within {FORK_TIMEOUT_SECONDS:g} s"
        if request.process is None:
            self._forget(number, request)
            raise OSError(request.error or "the ready interpreter did not start the run")
        return request.process

    def close(self) -> None:
        """The ready interpreter exits (and with it any child still running)."""
        with contextlib.suppress(OSError):  # closed already
            self._socket.shutdown(socket.SHUT_RDWR)

    def _forget(self, number: int, request: _Request) -> None:
        with self._lock:
            self._requests.pop(number, None)
        for fd in (request.stdout, request.stderr):
            with contextlib.suppress(OSError):  # already closed
                os.close(fd)

    # -- its own thread ------------------------------------------------------------------------

    def _keep(self, command: list[str], theirs: socket.socket) -> None:
        try:
            process = subprocess.Popen(
                command,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                preexec_fn=die_with_this_process(),
            )
        except OSError as error:
            self._end(f"cannot start the ready interpreter: {error}")
            return
        finally:
            theirs.close()
        try:
            while True:
                try:
                    data = self._socket.recv(MAX_MESSAGE_BYTES)
                except OSError:
                    break
                if not data:
                    break
                self._on_message(json.loads(data))
        finally:
            code = process.wait()
            self._end(f"the ready interpreter exited with code {code}")

    def _on_message(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            self._ready.set()
        elif "exited" in message:
            with self._lock:
                child = self._children.pop(message["exited"], None)
            if child is not None:
                child.ended(message["code"])
        elif "request" in message:
            with self._lock:
                request = self._requests.pop(message["request"], None)
                if request is not None and "pid" in message:
                    request.process = ForkedProcess(message["pid"], request.stdout, request.stderr)
                    self._children[message["pid"]] = request.process
            if request is not None:
                request.error = message.get("error")
                request.answered.set()
        elif "error" in message:
            self.problem = message["error"]
            _logger.error("the ready interpreter cannot start runs: %s", self.problem)
            self._ready.set()

    def _end(self, why: str) -> None:
        with self._lock:
            self._dead = True
            if self.problem is None:
                self.problem = why
            requests, self._requests = list(self._requests.values()), {}
            children, self._children = list(self._children.values()), {}
        if self._ready.is_set() and children:
            _logger.error("%s: %d flow process(es) died with it", why, len(children))
        self._ready.set()
        for request in requests:
            request.error = why
            request.answered.set()
        for child in children:
            child.ended(None)


class WarmLauncher:
    """Forks runs from a ready interpreter, starting a new one when the last one died."""

    def __init__(self, preload: list[str], https: bool) -> None:
        self._preload = preload
        self._https = https
        self._lock = threading.Lock()
        self._current = ReadyInterpreter(preload, https)

    def launch(
        self, run_id: str, folder: Path, env: dict[str, str], outcome_fd: int
    ) -> FlowProcess:
        with self._lock:
            if self._current.dead:
                self._current = ReadyInterpreter(self._preload, self._https)
            current = self._current
        return current.launch(run_id, folder, env, outcome_fd)

    def close(self) -> None:
        with self._lock:
            self._current.close()
