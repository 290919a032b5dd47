"""Follow a flow run from the CLI until it finishes: its state changes and its log lines as they
arrive, then an exit code a CI job can act on (`headrace deployment run ... --watch`).

It polls `GET /flow_runs/{id}/wait` with short timeouts: that endpoint answers at once when the
run finishes (the server hears it through NOTIFY), and otherwise after `POLL_SECONDS`, when the
watcher prints the log lines written meanwhile and any state change.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from headrace._state_types import StateType, is_terminal
from headrace.cli.flow_run import LEVELS
from headrace.cli.output import timestamp
from headrace.client import HeadraceClient, flow_runs, logs
from headrace.schemas.common import State
from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.logs import LogQuery

# How late a state change or a log line may show; also the longest wait per request.
POLL_SECONDS = 1.0
# Log lines the worker forwards may reach the API just after the final state.
LAST_LOGS_GRACE_SECONDS = 0.5
LOG_PAGE = 1000
# Retries with backoff (about 20 s in all) on an unreachable or unavailable API: watching a long
# run should outlive a server restart, and every request the watcher sends is a read.
RIDE_OUT_RETRIES = 8

# The exit codes of `--watch`, as the issue and docs/ci.md name them.
EXIT_CODES = {
    StateType.COMPLETED: 0,
    StateType.FAILED: 1,
    StateType.CRASHED: 1,
    StateType.CANCELLED: 130,
}
TIMED_OUT = 124


class RunTail:
    """A run's states and log lines not printed yet, printed once each in time order."""

    def __init__(self, client: HeadraceClient, run_id: uuid.UUID) -> None:
        self._client = client
        self._run_id = run_id
        self._after: int | None = None  # the last log line printed
        self._states_shown = 0
        self._state_seen: datetime | None = None

    def print_new(self, run: FlowRun) -> None:
        """Print what happened since the last call; `run` was just read (its state time tells
        whether the history needs reading)."""
        events = [*self._new_states(run), *self._new_logs()]
        for _, line in sorted(events, key=lambda event: event[0]):
            print(line, flush=True)

    def _new_states(self, run: FlowRun) -> list[tuple[datetime, str]]:
        if run.state_timestamp == self._state_seen:
            return []
        self._state_seen = run.state_timestamp
        # The history, not just the current state: a run may pass several states between polls.
        history = flow_runs.read(self._client, self._run_id, retries=RIDE_OUT_RETRIES).states
        new, self._states_shown = history[self._states_shown :], len(history)
        return [(state.timestamp, _state_line(state)) for state in new]

    def _new_logs(self) -> list[tuple[datetime, str]]:
        lines: list[tuple[datetime, str]] = []
        while True:
            page = logs.of_flow_run(
                self._client,
                self._run_id,
                LogQuery(after=self._after, limit=LOG_PAGE),
                retries=RIDE_OUT_RETRIES,
            )
            for line in page.items:
                level = LEVELS.get(line.level, str(line.level))
                lines.append(
                    (line.timestamp, f"{timestamp(line.timestamp)} {level:<8} {line.message}")
                )
            if page.next_after is not None:
                self._after = page.next_after
            if len(page.items) < LOG_PAGE:
                return lines


def _state_line(state: State) -> str:
    message = f" ({state.message})" if state.message else ""
    return f"{timestamp(state.timestamp)} state: {state.name}{message}"


def watch(client: HeadraceClient, run: FlowRun, timeout: float | None) -> int:
    """Print `run`'s state changes and logs until it is terminal; its exit code (124 when
    `timeout` seconds pass first — the run itself goes on)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    tail = RunTail(client, run.id)
    while True:
        tail.print_new(run)
        if is_terminal(run.state_type):
            time.sleep(LAST_LOGS_GRACE_SECONDS)
            tail.print_new(run)
            return _outcome(run)
        wait = POLL_SECONDS
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                print(
                    f"run {run.id} is still {run.state_name} after {timeout:g} s (--timeout); "
                    "it goes on — cancel it with `headrace flow-run cancel`",
                    flush=True,
                )
                return TIMED_OUT
        run = flow_runs.wait(
            client,
            run.id,
            wait,
            # The server answers after `wait` seconds at the latest; leave room for the trip.
            timeout=wait + 30,
            retries=RIDE_OUT_RETRIES,
        )


def _outcome(run: FlowRun) -> int:
    message = f": {run.state_message}" if run.state_message else ""
    print(f"run {run.id} finished {run.state_name}{message}", flush=True)
    return EXIT_CODES[run.state_type]
