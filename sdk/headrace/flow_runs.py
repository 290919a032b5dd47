"""Waiting for flow runs from code (`from headrace.flow_runs import wait_for_flow_run`), under
Prefect's names. Pausing and resuming a run from its code is not offered yet: those names fail
at once with one line saying so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any, NoReturn

from headrace.exceptions import FlowRunWaitTimeout
from headrace.not_offered import not_offered

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.schemas.flow_runs import FlowRun

# A long poll of the API answers at least this often, so a deadline is kept.
_POLL_SECONDS = 30.0


async def wait_for_flow_run(
    flow_run_id: uuid.UUID | str,
    timeout: float | None = 10800,
    poll_interval: float | None = None,
    client: HeadraceClient | None = None,
    log_states: bool = False,
) -> FlowRun:
    """The run once it is in a final state; `FlowRunWaitTimeout` after `timeout` seconds
    (None: no limit). A coroutine, as in Prefect (`asyncio.run(wait_for_flow_run(id))` from
    sync code). The API is long-polled: `poll_interval` is accepted and not needed."""
    del poll_interval, log_states  # the long poll answers as soon as the run is final
    return await asyncio.to_thread(wait_until_final, flow_run_id, timeout, client)


def wait_until_final(
    flow_run_id: uuid.UUID | str, timeout: float | None, client: HeadraceClient | None = None
) -> FlowRun:
    """`wait_for_flow_run`, blocking this thread."""
    # Here: the client loads httpx and pydantic, which `import headrace` must not.
    from headrace.client import HeadraceClient, flow_runs

    own = client is None
    active = client or HeadraceClient()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            left = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            run = flow_runs.wait(active, flow_run_id, max(0.0, min(left, _POLL_SECONDS)))
            if run.state_type.value in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise FlowRunWaitTimeout(
                    f"flow run {flow_run_id} is still {run.state_name} after {timeout} s"
                )
    finally:
        if own:
            active.close()


def _not_yet(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise not_offered(f"headrace.flow_runs.{name}()", "pause-and-resume")

    refuse.__name__ = name
    return refuse


pause_flow_run = _not_yet("pause_flow_run")
suspend_flow_run = _not_yet("suspend_flow_run")
resume_flow_run = _not_yet("resume_flow_run")

__all__ = ["pause_flow_run", "resume_flow_run", "suspend_flow_run", "wait_for_flow_run"]
