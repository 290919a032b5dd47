"""What the runners over a distributed engine (Dask, Ray) share.

A task call travels to a worker process of the engine, possibly on another host, and
`run_call_elsewhere` runs it there: the task run reports its states, logs and results to the API
itself, from the call's snapshot. What the engine cannot report is its own failure: a worker that
dies mid-task takes the task run's reports with it, so the flow side records that task run Crashed
and, while the task has retries left, sends the call again. Each engine is told not to re-run a
lost call on its own, so that retries are the task's and every attempt is recorded.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import TYPE_CHECKING, Any

from headrace.engine.task_call import backend_for
from headrace.states import Crashed
from headrace.task_runners import TaskRunner

if TYPE_CHECKING:
    from headrace.calls import TaskCall
    from headrace.states import State


class DistributedTaskRunner(TaskRunner):
    """A runner that sends each call to an engine's worker (`_send`) and settles the call's
    future with the state the worker returns, or with `_lost` when the engine reports an error."""

    engine = "distributed"

    def submit(self, call: TaskCall) -> concurrent.futures.Future[State[Any]]:
        final: concurrent.futures.Future[State[Any]] = concurrent.futures.Future()
        self._send(call, final)
        return final

    def _send(self, call: TaskCall, final: concurrent.futures.Future[State[Any]]) -> None:
        """Send `call` to a worker; its outcome settles `final` (through `_lost` on an error)."""
        raise NotImplementedError

    def _lost(
        self,
        call: TaskCall,
        exc: BaseException | None,
        final: concurrent.futures.Future[State[Any]],
    ) -> None:
        """The engine failed `call` (run_call turns whatever the task raises into a state, so an
        error here is the engine's: the worker died, the scheduler went away, the call could not
        be unpickled there): Crashed, then sent again while the task has retries left."""
        try:
            crashed = Crashed(
                f"the {self.engine} worker running it was lost: {type(exc).__name__}: {exc}",
                exception=exc,
            )
            record = call.new_record()
            record.run_count = call.runs_before + 1
            backend = backend_for(call.context)
            backend.task_runs.set_state(record, crashed)
            backend.task_runs.flush()
            if record.run_count <= call.task.retries:
                self._send(dataclasses.replace(call, runs_before=record.run_count), final)
            else:
                final.set_result(crashed)
        except BaseException as failure:  # the flow must not wait forever on this future
            if not final.done():
                final.set_exception(failure)
