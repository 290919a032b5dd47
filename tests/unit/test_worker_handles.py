"""The worker's book of the runs it runs, when a run it still runs is handed to it again."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from headrace.client import HeadraceClient
from headrace.schemas.work_pools import ClaimedRun
from headrace_worker.pool_types import RunHandle
from headrace_worker.worker import Worker
from tests.unit.test_worker_units import claimed


class Attempt:
    """A run handle that only remembers what the worker asked of it."""

    def __init__(self, run_id: uuid.UUID) -> None:
        self._run_id = run_id
        self.abandoned = False

    @property
    def run_id(self) -> uuid.UUID:
        return self._run_id

    def done(self) -> bool:
        return self.abandoned

    def wait(self, timeout: float | None = None) -> bool:
        return self.abandoned

    def cancel(self, reason: str) -> None:
        pass

    def abandon(self) -> None:
        self.abandoned = True


class Attempts:
    """A pool type whose runs are `Attempt`s, with the worker's exit callback kept."""

    name = "attempts"

    def __init__(self) -> None:
        self.started: list[tuple[Attempt, Callable[[RunHandle], None]]] = []

    def start(self, run: ClaimedRun, on_exit: Callable[[RunHandle], None]) -> RunHandle:
        attempt = Attempt(run.flow_run.id)
        self.started.append((attempt, on_exit))
        return attempt


def test_a_run_handed_again_to_the_worker_that_still_runs_it_supersedes_the_old_attempt() -> None:
    # The worker lost the run's lease (frozen, cut off), the run was rescued, and its claim
    # took the run again: the old attempt must go, and its exit must not drop the new one.
    with HeadraceClient("http://127.0.0.1:9/api") as client:
        worker = Worker("p", client=client)
        attempts = Attempts()
        worker._runner = attempts
        run = claimed("/srv/code")
        worker._start(run)
        worker._start(run)
        (old, old_exit), (new, _) = attempts.started
        assert old.abandoned and not new.abandoned
        old_exit(old)  # the old attempt's supervisor ends after the new one started
        assert worker._handles == {run.flow_run.id: new}
