"""The "process" pool type: each claimed run is `python -m headrace.engine <run id>` in a new
process group, in the deployment's code folder, its output forwarded into the run's logs.

The flow process is forked from the worker's ready interpreter (`--start-method fork`, the
default on Linux: see warm_launcher) or spawned as a new interpreter (`spawn`); the runner treats
both alike (see launchers).

Cancellation sends SIGTERM to the whole group (the flow's own children too), then SIGKILL after
`cancel_grace_seconds`. On Linux the flow process dies with its worker (PR_SET_PDEATHSIG): a
worker SIGKILLed alone leaves no orphaned attempt running while the run is retried elsewhere.
When the process exits without the run having reached a final state, the run is reported
Crashed (or Cancelled when a cancel was asked for), with the exit code or signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

from headrace._state_types import StateType
from headrace.client import flow_runs
from headrace.engine.lease_watch import EXIT_LEASE_LOST
from headrace.engine.outcome_report import read_outcome
from headrace.errors import Conflict, HeadraceError
from headrace.logging import OUTPUT_FORWARDED_ENV
from headrace.pool_types import PROCESS
from headrace.schemas.work_pools import ClaimedRun
from headrace.startup_trace import mark
from headrace_worker.launchers import (
    FORK,
    FlowProcess,
    Launcher,
    ProcessLost,
    SpawnLauncher,
)
from headrace_worker.outcome import log_entry, propose_state, report_exit, run_log
from headrace_worker.pool_types import RunContext, RunHandle
from headrace_worker.sources import SourceError, resolve_code_folder

OUTPUT_LOGGER = "headrace.worker.output"
# After the process exits, how long its output may still drain (a grandchild may hold the pipe).
OUTPUT_DRAIN_SECONDS = 2.0
LOG_FLUSH_SECONDS = 5.0

_logger = logging.getLogger("headrace.worker")


class ProcessPoolType:
    name = PROCESS
    # A process run reads no job variables (any a deployment sets are ignored).
    job_variables_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self._launcher: Launcher | None = None
        self._launcher_lock = threading.Lock()

    def prepare(self) -> None:
        """Called by the worker once registered: the ready interpreter (fork) warms up while
        the worker waits for its first claim."""
        self._get_launcher()

    def start(self, run: ClaimedRun, on_exit: Callable[[RunHandle], None]) -> RunHandle:
        handle = ProcessRun(run, self.context, on_exit, self._get_launcher())
        handle.start()
        return handle

    def close(self) -> None:
        """The worker stopped: the ready interpreter (if any) goes too."""
        with self._launcher_lock:
            if self._launcher is not None:
                self._launcher.close()

    def _get_launcher(self) -> Launcher:
        with self._launcher_lock:
            if self._launcher is None:
                self._launcher = make_launcher(self.context)
            return self._launcher


def make_launcher(context: RunContext) -> Launcher:
    settings = context.settings
    if settings.resolved_start_method() != FORK:
        return SpawnLauncher()
    # Imported here: a spawning worker never needs it.
    from headrace_worker.warm_launcher import WarmLauncher

    # It warms up while the worker registers and waits for its first claim; a run that comes
    # before it is ready waits for it, and a run it cannot start (a bad --preload) Fails with why.
    return WarmLauncher(
        settings.preload_modules(),
        https=any(url.startswith("https:") for url in context.client.api_urls),
    )


class ProcessRun:
    """One flow run in a subprocess, watched by its own supervisor thread."""

    def __init__(
        self,
        run: ClaimedRun,
        context: RunContext,
        on_exit: Callable[[RunHandle], None],
        launcher: Launcher,
    ) -> None:
        self.run = run
        self.context = context
        self._on_exit = on_exit
        self._launcher = launcher
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._process: FlowProcess | None = None
        self._cancel_reason: str | None = None
        self._abandoned = False
        self._folder: Path | None = None
        # The read end of the flow process's outcome pipe (see headrace.engine.outcome_report).
        self._outcome: int | None = None

    @property
    def run_id(self) -> uuid.UUID:
        return self.run.flow_run.id

    def start(self) -> None:
        threading.Thread(
            target=self._supervise, name=f"headrace-run-{self.run_id}", daemon=True
        ).start()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self._cancel_reason is not None or self._abandoned or self.done():
                return
            self._cancel_reason = reason
            process = self._process
        if process is not None:
            run_log(self.context, self.run_id, logging.INFO, f"{reason}: stopping the flow process")
            _signal_group(process, signal.SIGTERM)
            threading.Thread(target=self._escalate, args=(process,), daemon=True).start()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            process = self._process
        if process is not None:
            _logger.warning(
                "run %s: lease lost to another worker; killing its process", self.run_id
            )
            _signal_group(process, signal.SIGKILL)

    # -- the supervisor thread ----------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            self._execute()
        except Exception as error:  # a bug here must not take the worker down with it
            _logger.exception("run %s: the worker failed to supervise it", self.run_id)
            propose_state(
                self.context, self.run_id, StateType.CRASHED, f"the worker failed: {error}"
            )
        finally:
            self.context.logs.flush(LOG_FLUSH_SECONDS)
            self._done.set()
            self._on_exit(self)

    def _execute(self) -> None:
        mark("supervisor", self.run_id)
        try:
            # A bundle or git source is downloaded here, in the run's own thread.
            self._folder = resolve_code_folder(self.run, self.context.client)
        except SourceError as error:
            propose_state(self.context, self.run_id, StateType.FAILED, str(error))
            return
        problem = missing_code(self.run, self._folder)
        if problem is not None:
            propose_state(self.context, self.run_id, StateType.FAILED, problem)
            return
        with self._lock:
            if self._abandoned:
                return
            if self._cancel_reason is not None:
                report_exit(
                    self.context,
                    self.run_id,
                    exit_description="the flow process was never started",
                    cancel_reason=self._cancel_reason,
                )
                return
            try:
                process = self._spawn()
            except OSError as error:
                propose_state(
                    self.context,
                    self.run_id,
                    StateType.FAILED,
                    f"cannot start the flow process in {self._folder}: {error}",
                )
                return
            self._process = process
        mark("launched", self.run_id)
        readers = [
            self._forward(process.stdout, logging.INFO),
            self._forward(process.stderr, logging.INFO),
        ]
        try:
            code = process.wait()
            assert code is not None, "waited without a timeout"
            description = exit_description(code)
        except ProcessLost as lost:
            code, description = None, f"flow process lost: {lost}"
        for reader in readers:
            reader.join(OUTPUT_DRAIN_SECONDS)
        # A runner whose process has no outcome pipe (a container's) reports every exit.
        recorded = self._outcome is not None and read_outcome(self._outcome)
        with self._lock:
            abandoned, cancel_reason = self._abandoned, self._cancel_reason
        if cancel_reason is not None:
            # The flow's own children die with it: the whole group was asked to stop.
            _signal_group(process, signal.SIGKILL)
        if abandoned or (code == EXIT_LEASE_LOST and self._lost_lease()):
            return
        if recorded:
            # Its final state is on the server: reading the run again would only say so.
            return
        self.context.logs.flush(LOG_FLUSH_SECONDS)
        report_exit(
            self.context,
            self.run_id,
            exit_description=description,
            cancel_reason=cancel_reason,
        )

    def _lost_lease(self) -> bool:
        """Did the flow process stop because this worker no longer holds the run? Then the run
        belongs to another attempt: nothing of this one is reported into it."""
        try:
            flow_runs.lease(self.context.client, self.run_id, self.context.worker_id)
        except Conflict as refused:
            _logger.warning("run %s: its flow process stopped: %s", self.run_id, refused.detail)
            return True
        except HeadraceError:
            return False  # report as usual: the server fences what it must
        return False

    def _spawn(self) -> FlowProcess:
        env = dict(os.environ)
        env.update(
            HEADRACE_API_URL=self.context.client.api_url_setting(),
            HEADRACE_WORKER_ID=str(self.context.worker_id),
            HEADRACE_FLOW_RUN_ID=str(self.run_id),
            # Read by the flow process while it reads the run (see its deployment_read).
            HEADRACE_DEPLOYMENT_ID=str(self.run.deployment_id),
            # Output reaches the run's logs as it is written, not when a buffer fills.
            PYTHONUNBUFFERED="1",
        )
        # We forward its output: what the engine sends to the API itself is not echoed too.
        env[OUTPUT_FORWARDED_ENV] = "1"
        if self.context.api_key:
            env["HEADRACE_API_KEY"] = self.context.api_key
        assert self._folder is not None
        mark("launch", self.run_id)
        outcome_read, outcome_write = os.pipe()
        try:
            process = self._launcher.launch(str(self.run_id), self._folder, env, outcome_write)
        except BaseException:
            os.close(outcome_read)
            raise
        finally:
            os.close(outcome_write)  # the flow process holds the write end now
        self._outcome = outcome_read
        return process

    def _forward(self, stream: IO[bytes] | None, level: int) -> threading.Thread:
        def pump() -> None:
            assert stream is not None
            with stream:
                for raw in iter(stream.readline, b""):
                    message = raw.decode("utf-8", "replace").rstrip("\r\n")
                    self.context.logs.log(log_entry(self.run_id, level, OUTPUT_LOGGER, message))

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        return thread

    def _escalate(self, process: FlowProcess) -> None:
        try:
            ended = process.wait(self.context.settings.cancel_grace_seconds) is not None
        except ProcessLost:
            ended = True
        if not ended:
            run_log(
                self.context,
                self.run_id,
                logging.WARNING,
                "the flow process ignored SIGTERM for "
                f"{self.context.settings.cancel_grace_seconds:g} s: sending SIGKILL",
            )
            _signal_group(process, signal.SIGKILL)


def code_folder(run: ClaimedRun) -> Path:
    """The folder the run's process starts in: the deployment's code folder."""
    return Path(run.path) if run.path else Path.cwd()


def missing_code(run: ClaimedRun, folder: Path | None = None) -> str | None:
    """Why the run cannot start here (its code folder or entrypoint file is missing), or None."""
    folder = folder if folder is not None else code_folder(run)
    if not folder.is_dir():
        return f"the code folder {folder} does not exist on this worker's host"
    file_part = run.entrypoint.rpartition(":")[0] or run.entrypoint
    if file_part.endswith(".py") and not (folder / file_part).is_file():
        return f"the entrypoint file {folder / file_part} does not exist"
    return None


def exit_description(returncode: int) -> str:
    """`flow process exited with code 1` / `flow process was killed by signal 9 (SIGKILL)`."""
    if returncode >= 0:
        return f"flow process exited with code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    return f"flow process was killed by signal {number} ({name})"


def _signal_group(process: FlowProcess, sig: signal.Signals) -> None:
    # ProcessLookupError: the group is gone already.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
