"""Reporting how a run ended when its own process could not: failed to start, crashed, cancelled.

The flow engine reports the final state itself whenever it can; the worker only fills the gap,
so it first reads the run and leaves a finished run alone.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from headrace._state_types import StateType, is_terminal
from headrace.client import flow_runs
from headrace.errors import ApiError, ApiUnreachable
from headrace.reporter import LogLine
from headrace.schemas.common import MAX_MESSAGE, StateCreate
from headrace.schemas.flow_runs import SetStateRequest
from headrace.schemas.logs import MAX_LOG_MESSAGE
from headrace_worker.pool_types import RunContext

WORKER_LOGGER = "headrace.worker"

_logger = logging.getLogger(WORKER_LOGGER)


def log_entry(run_id: uuid.UUID, level: int, name: str, message: str) -> LogLine:
    """A line of the run, stamped now."""
    return LogLine(run_id, None, level, name, message[:MAX_LOG_MESSAGE], datetime.now(UTC))


def run_log(context: RunContext, run_id: uuid.UUID, level: int, message: str) -> None:
    """A line from the worker itself into the run's logs (and the worker's console)."""
    _logger.log(level, "run %s: %s", run_id, message)
    context.logs.log(log_entry(run_id, level, WORKER_LOGGER, message))


def propose_state(
    context: RunContext, run_id: uuid.UUID, state_type: StateType, message: str
) -> bool:
    """Propose a state as the lease holder; a refusal (409) means someone else decided."""
    level = logging.ERROR if state_type in (StateType.FAILED, StateType.CRASHED) else logging.INFO
    run_log(context, run_id, level, message)
    try:
        flow_runs.set_state(
            context.client,
            run_id,
            SetStateRequest(
                state=StateCreate(type=state_type, message=message[:MAX_MESSAGE]),
                worker_id=context.worker_id,
            ),
        )
    except ApiError as error:
        _logger.info("run %s: %s not recorded: %s", run_id, state_type.value, error.detail)
        return False
    except ApiUnreachable as error:
        # The lease will expire and the reaper will mark the run Crashed instead.
        _logger.warning("run %s: %s not recorded: %s", run_id, state_type.value, error)
        return False
    return True


def report_exit(
    context: RunContext, run_id: uuid.UUID, *, exit_description: str, cancel_reason: str | None
) -> None:
    """After the run's execution ended: Cancelled or Crashed, unless it already finished."""
    try:
        run = flow_runs.read(context.client, run_id)
    except (ApiError, ApiUnreachable) as error:
        _logger.warning("run %s: cannot read its state after it exited: %s", run_id, error)
        return
    if is_terminal(run.state_type) or run.state_name == "Suspended":
        # Finished, or suspended by its flow: the process was meant to exit.
        return
    if cancel_reason is not None or run.state_type is StateType.CANCELLING:
        why = cancel_reason or "cancelled"
        propose_state(context, run_id, StateType.CANCELLED, f"{why}; {exit_description}")
    else:
        propose_state(
            context,
            run_id,
            StateType.CRASHED,
            f"{exit_description} without reporting a final state",
        )
