"""The pull worker: registers with the API, heartbeats, long-polls claims, runs what it claims.

Threads: the caller's thread waits for a stop signal and then drains; one thread claims (a long
poll, so it never sleeps through a poll interval); one thread heartbeats, renewing the leases of
the runs held and acting on the cancellations and lost leases the server answers with; one thread
watches for cancellations of the runs held (a long poll, so a cancel reaches the run at once, not
at the next heartbeat); each run has its supervisor thread (see the pool type).

Shutdown: the first SIGINT/SIGTERM stops claiming (a heartbeat tells the server, so that a claim
still waiting there hands this worker nothing), lets running runs finish for
`shutdown_grace_seconds`, then cancels the rest and reports them Cancelled. A second signal kills
the runs' processes and exits at once; their leases then expire and the reaper marks them Crashed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from types import FrameType
from typing import Any

from headrace._state_types import StateType
from headrace.client import HeadraceClient, work_pools, workers
from headrace.errors import ApiError, ApiUnreachable, Conflict, HeadraceError, NotFound
from headrace.interrupts import signals_interrupt_main_thread
from headrace.ports.api import log_sender
from headrace.reporter import Reporter, TaskRunRecord
from headrace.schemas.work_pools import (
    MAX_CLAIM,
    CancellationWait,
    ClaimedRun,
    ClaimRequest,
    HeartbeatResponse,
    PoolTypeAnnouncement,
    WorkerHeartbeat,
    WorkPool,
    WorkPoolCreate,
)
from headrace.settings import client_settings
from headrace.startup_trace import mark
from headrace.states import State
from headrace_worker.outcome import propose_state
from headrace_worker.pool_types import (
    PoolType,
    RunContext,
    RunHandle,
    job_variables_schema,
    pool_type_factory,
)
from headrace_worker.settings import WorkerSettings

_logger = logging.getLogger("headrace.worker")


def configure_logging() -> None:
    """The worker reports through logging: show it on stderr in a process that set up no
    logging of its own (the CLI, a script that serves), without one line per HTTP request."""
    if logging.getLogger().handlers:
        return
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


# Until the server answers the first heartbeat with its own interval.
DEFAULT_HEARTBEAT_SECONDS = 10.0
# A claim waits up to `claim_wait_seconds` on the server; the HTTP request may take this longer.
CLAIM_TIMEOUT_MARGIN_SECONDS = 10.0
DRAIN_MARGIN_SECONDS = 5.0
EXIT_AT_ONCE = 130
# The "stopping" notice is tried once, briefly: the shutdown grace starts after it.
STOPPING_NOTICE_TIMEOUT_SECONDS = 2.0
SHUTDOWN_REASON = "the worker shut down"


class WorkerError(HeadraceError):
    """The worker cannot serve its pool (the message says why and what to do)."""


class Worker:
    """Serves one work pool: runs up to `limit` of its runs at a time."""

    def __init__(
        self,
        pool: str,
        name: str | None = None,
        limit: int = 10,
        *,
        create_type: str | None = None,
        client: HeadraceClient | None = None,
        settings: WorkerSettings | None = None,
        api_key: str | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.pool = pool
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.limit = limit
        # Given: the pool is created with this type when it does not exist.
        self.create_type = create_type
        self.settings = settings or WorkerSettings()
        self.client = client or HeadraceClient()
        # Handed to the runs' processes, which talk to the API themselves.
        self.api_key = api_key if api_key is not None else client_settings().api_key
        self.worker_id: uuid.UUID | None = None
        self.heartbeat_seconds = DEFAULT_HEARTBEAT_SECONDS
        self._stopping = threading.Event()
        self._slots = threading.Condition()
        # One heartbeat at a time, so that one built before the stop signal cannot land after
        # the one saying "stopping" and make this worker look ONLINE (claimable) again.
        self._beat_lock = threading.Lock()
        self._handles: dict[uuid.UUID, RunHandle] = {}
        # Held runs already told to stop: the cancellation watch does not ask about them again.
        self._cancelled: set[uuid.UUID] = set()
        self._signals = 0
        self._logs = Reporter(_no_task_runs, log_sender(self.client, retries=None))
        self._runner: PoolType | None = None

    # -- public -------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve the pool until stopped; the exit code of `headrace worker start`."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
        if not self.wait_for_api():
            return 0
        work_pool = self._ensure_pool()
        self._register(work_pool)
        _logger.info(
            "worker %r serving pool %r (type %s, up to %d runs at a time) from %s",
            self.name,
            self.pool,
            work_pool.type,
            self.limit,
            self.client.api_url,
        )
        threading.Thread(
            target=self._heartbeat_loop, name="headrace-heartbeat", daemon=True
        ).start()
        threading.Thread(target=self._claim_loop, name="headrace-claim", daemon=True).start()
        threading.Thread(
            target=self._cancellation_loop, name="headrace-cancellations", daemon=True
        ).start()
        # A stop signal received by another thread would not wake these waits on its own.
        with signals_interrupt_main_thread():
            self._stopping.wait()
            self._drain()
        return 0

    def stop(self) -> None:
        """Stop claiming and drain (what the first SIGTERM does)."""
        self._stopping.set()
        with self._slots:
            self._slots.notify_all()

    def wait_for_api(self) -> bool:
        """Wait (with backoff) until the API answers; False if stopped while waiting."""
        delay = 0.2
        announced = False
        while not self._stopping.is_set():
            if self.client.health():
                if announced:
                    _logger.info("connected to the headrace API at %s", self.client.api_url)
                return True
            if not announced:
                _logger.warning(
                    "waiting for the headrace API at %s (start it with `headrace server start` "
                    "or set HEADRACE_API_URL)",
                    self.client.api_url,
                )
                announced = True
            self._stopping.wait(delay)
            delay = min(delay * 2, self.settings.connect_max_backoff_seconds)
        return False

    # -- start-up -----------------------------------------------------------------------------

    def _ensure_pool(self) -> WorkPool:
        try:
            work_pool = work_pools.read(self.client, self.pool)
        except NotFound:
            if self.create_type is None:
                raise WorkerError(
                    f"work pool {self.pool} does not exist; create it with "
                    f"`headrace work-pool create --type process {self.pool}` or pass --type"
                ) from None
            try:
                work_pool = work_pools.create(
                    self.client, WorkPoolCreate(name=self.pool, type=self.create_type)
                )
                _logger.info("created work pool %r of type %s", self.pool, self.create_type)
            except Conflict:
                # Workers started together (`docker compose up --scale worker=3`) race to
                # create the pool; the losers use the one the winner made.
                work_pool = work_pools.read(self.client, self.pool)
        if self.create_type is not None and work_pool.type != self.create_type:
            raise WorkerError(
                f"work pool {self.pool} is of type {work_pool.type}, not {self.create_type}"
            )
        return work_pool

    def _register(self, work_pool: WorkPool) -> None:
        try:
            # Resolved first: a worker without the pool's plug-in must not register.
            factory = pool_type_factory(work_pool.type)
        except ValueError as error:
            raise WorkerError(str(error)) from None
        announcement = PoolTypeAnnouncement(
            type=work_pool.type, job_variables_schema=job_variables_schema(factory)
        )
        with self._beat_lock:
            self.worker_id = self._send_heartbeat(announcement=announcement).worker_id
        self._runner = factory(self._context())
        # A pool type may get ready for runs meanwhile (the process type's ready interpreter).
        prepare = getattr(self._runner, "prepare", None)
        if prepare is not None:
            prepare()

    def _context(self) -> RunContext:
        assert self.worker_id is not None, "registered first"
        return RunContext(
            client=self.client,
            worker_id=self.worker_id,
            api_key=self.api_key,
            logs=self._logs,
            settings=self.settings,
        )

    # -- heartbeats ---------------------------------------------------------------------------

    def _heartbeat(self) -> HeartbeatResponse:
        # One try: the loop beats again a heartbeat interval later. Retrying inside a beat
        # (0.2 + 0.4 + 0.8 s of backoff) only delayed the first beat after a short network cut
        # until the leases it renews had nearly run out.
        with self._beat_lock:
            return self._send_heartbeat(retries=0)

    def _send_heartbeat(
        self, announcement: PoolTypeAnnouncement | None = None, **request_options: Any
    ) -> HeartbeatResponse:
        """Call with `_beat_lock` held; `announcement` on registering."""
        with self._slots:
            held = list(self._handles)
        answer = workers.heartbeat(
            self.client,
            self.pool,
            WorkerHeartbeat(
                name=self.name,
                heartbeat_interval_seconds=self.heartbeat_seconds,
                run_ids=held,
                stopping=self._stopping.is_set(),
                announcement=announcement,
            ),
            **request_options,
        )
        self.heartbeat_seconds = answer.heartbeat_seconds
        return answer

    def _heartbeat_loop(self) -> None:
        unreachable = False
        while not self._stopped_and_idle():
            time.sleep(self.heartbeat_seconds)
            try:
                answer = self._heartbeat()
            except Exception as error:
                # Any failure, not only the expected ones (an OSError, a certificate that stopped
                # being trusted): the thread must live on, or leases silently stop being renewed.
                if not unreachable:
                    expected = isinstance(error, (ApiUnreachable, ApiError))
                    _logger.warning(
                        "heartbeat failed (leases are not renewed): %s",
                        error if expected else f"{type(error).__name__}: {error}",
                    )
                unreachable = True
                continue
            if unreachable:
                _logger.info("heartbeats are back")
                unreachable = False
            self._act_on(answer)

    def _act_on(self, answer: HeartbeatResponse) -> None:
        self._cancel(answer.cancel_run_ids, "cancelled on request")
        self._cancel(answer.suspend_run_ids, "suspended on request")
        with self._slots:
            lost = [self._handles[i] for i in answer.lost_run_ids if i in self._handles]
        for handle in lost:
            handle.abandon()

    def _cancel(self, run_ids: list[uuid.UUID], reason: str) -> None:
        with self._slots:
            handles = [self._handles[i] for i in run_ids if i in self._handles]
            self._cancelled.update(handle.run_id for handle in handles)
        for handle in handles:
            handle.cancel(reason)  # once per run: a repeated cancel does nothing

    def _stopped_and_idle(self) -> bool:
        with self._slots:
            return self._stopping.is_set() and not self._handles

    # -- cancellations ------------------------------------------------------------------------

    def _cancellation_loop(self) -> None:
        """Long-poll the runs held that were asked to stop, while some run is not stopping yet."""
        backoff = 0.2
        answered: set[uuid.UUID] = set()
        while True:
            with self._slots:
                self._slots.wait_for(
                    lambda: (
                        (self._stopping.is_set() and not self._handles)
                        or bool(self._handles.keys() - self._cancelled)
                    )
                )
                if self._stopping.is_set() and not self._handles:
                    return
                # Runs already answered are ignored too, even those no longer held here (their
                # exit report may have failed): else the server answers them again at once,
                # in a loop without pause, until their lease expires.
                ignore = sorted(self._cancelled | answered)
            try:
                asked = self._wait_for_cancellations(ignore)
            except Exception as error:  # an odd answer (a proxy's page) too
                # The heartbeats still carry cancellations; this only makes them prompt, and
                # must not die of one bad answer.
                level = (
                    logging.DEBUG
                    if isinstance(error, ApiUnreachable | ApiError)
                    else logging.WARNING
                )
                _logger.log(
                    level, "cancellation watch failed, retrying in %.1f s: %s", backoff, error
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, self.settings.connect_max_backoff_seconds)
                continue
            backoff = 0.2
            answered.update(asked)
            self._cancel(asked, "cancelled on request")

    def _wait_for_cancellations(self, ignore: list[uuid.UUID]) -> list[uuid.UUID]:
        assert self.worker_id is not None, "registered first"
        wait = self.settings.claim_wait_seconds
        return workers.wait_for_cancellations(
            self.client,
            self.pool,
            CancellationWait(worker_id=self.worker_id, ignore_run_ids=ignore, wait_seconds=wait),
            timeout=wait + CLAIM_TIMEOUT_MARGIN_SECONDS,
            retries=0,
        )

    # -- claims -------------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            free = self._wait_for_free_slots()
            if free == 0:
                continue
            try:
                runs = self._claim(free)
            except (ApiUnreachable, ApiError) as error:
                _logger.warning("claim failed, retrying in %.1f s: %s", backoff, error)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.settings.connect_max_backoff_seconds)
                continue
            backoff = 0.2
            for run in runs:
                mark("claim-answered", run.flow_run.id)
                if self._stopping.is_set():
                    self._release(run)
                else:
                    self._start(run)

    def _wait_for_free_slots(self) -> int:
        with self._slots:
            self._slots.wait_for(lambda: self._stopping.is_set() or len(self._handles) < self.limit)
            return 0 if self._stopping.is_set() else self.limit - len(self._handles)

    def _claim(self, limit: int) -> list[ClaimedRun]:
        assert self.worker_id is not None, "registered first"
        wait = self.settings.claim_wait_seconds
        return workers.claim(
            self.client,
            self.pool,
            ClaimRequest(worker_id=self.worker_id, limit=min(limit, MAX_CLAIM), wait_seconds=wait),
            timeout=wait + CLAIM_TIMEOUT_MARGIN_SECONDS,
            # A retried claim could take runs whose answer was lost; the loop retries instead.
            retries=0,
        )

    def _start(self, run: ClaimedRun) -> None:
        assert self._runner is not None
        _logger.info("run %s of %s/%s claimed", run.flow_run.id, run.flow_name, run.deployment_name)
        with self._slots:
            # Handed a run it still runs: this worker lost its lease (it was frozen or cut off)
            # and the run was rescued, then claimed again here. The old attempt must go.
            superseded = self._handles.get(run.flow_run.id)
        if superseded is not None:
            superseded.abandon()
        with self._slots:
            handle = self._runner.start(run, self._on_exit)
            self._handles[handle.run_id] = handle
            self._cancelled.discard(handle.run_id)
            self._slots.notify_all()  # the cancellation watch now has a run to watch

    def _on_exit(self, handle: RunHandle) -> None:
        _logger.info("run %s ended", handle.run_id)
        with self._slots:
            # Only its own entry: a new attempt of the same run may have replaced it.
            if self._handles.get(handle.run_id) is handle:
                del self._handles[handle.run_id]
                self._cancelled.discard(handle.run_id)
            self._slots.notify_all()

    def _release(self, run: ClaimedRun) -> None:
        """Give back a run claimed while stopping: it waits SCHEDULED for another worker."""
        message = f"released by worker {self.name}, which is shutting down"
        propose_state(self._context(), run.flow_run.id, StateType.SCHEDULED, message)

    # -- shutdown -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            _logger.warning(
                "%s: stopping; runs in progress get %g s to finish (signal again to exit at once)",
                signal.Signals(signum).name,
                self.settings.shutdown_grace_seconds,
            )
            self.stop()
            return
        _logger.warning("second signal: killing the runs' processes and exiting now")
        with self._slots:
            handles = list(self._handles.values())
        for handle in handles:
            handle.abandon()
        os._exit(EXIT_AT_ONCE)

    def _announce_stopping(self) -> None:
        """Tell the server at once, so that a claim of ours still waiting there takes nothing.

        One quick try: the grace period starts after it, and an unhealthy API must not eat the
        time a supervisor gives before SIGKILL. The regular heartbeats say it again anyway."""
        if not self._beat_lock.acquire(timeout=STOPPING_NOTICE_TIMEOUT_SECONDS):
            _logger.warning("could not tell the server this worker is stopping: API too slow")
            return
        try:
            self._send_heartbeat(retries=0, timeout=STOPPING_NOTICE_TIMEOUT_SECONDS)
        except (ApiUnreachable, ApiError) as error:
            # A run handed to us anyway is given back (see `_release`).
            _logger.warning("could not tell the server this worker is stopping: %s", error)
            return
        finally:
            self._beat_lock.release()
        _logger.info("the server hands this worker no more runs")

    def _drain(self) -> None:
        self._announce_stopping()
        with self._slots:
            handles = list(self._handles.values())
        if handles:
            _logger.info("waiting for %d run(s) to finish", len(handles))
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds
        for handle in handles:
            handle.wait(max(0.0, deadline - time.monotonic()))
        late = [h for h in handles if not h.done()]
        for handle in late:
            # Cancelling first: the flow's process then ends Cancelled (running its
            # on_cancellation hooks) rather than Crashed when it gets SIGTERM.
            propose_state(self._context(), handle.run_id, StateType.CANCELLING, SHUTDOWN_REASON)
        self._cancel([handle.run_id for handle in late], SHUTDOWN_REASON)
        deadline = time.monotonic() + self.settings.cancel_grace_seconds + DRAIN_MARGIN_SECONDS
        for handle in late:
            handle.wait(max(0.0, deadline - time.monotonic()))
        self._logs.close()
        # A pool type may hold a helper process (the process type's ready interpreter).
        close = getattr(self._runner, "close", None)
        if close is not None:
            close()
        _logger.info("worker %r stopped", self.name)


def _no_task_runs(batch: list[tuple[TaskRunRecord, list[State[Any]]]]) -> None:
    """The worker reports log lines only; task runs are its runs' own business."""
