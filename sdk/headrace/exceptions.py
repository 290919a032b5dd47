"""Exceptions that flows and tasks raise at run time (the API errors are in `headrace.errors`).

HeadraceError                (headrace.errors)
└── RunError
    ├── FailedRun            a run ended Failed and its own exception is not at hand
    ├── UpstreamFailed       a task's upstream future did not complete
    ├── RunTimeout           an attempt exceeded `timeout_seconds` (also a TimeoutError)
    ├── ParameterTypeError   the parameters do not match the flow's type hints (also
    │                        `ParameterError`, headrace's earlier name)
    ├── ResultError          a result cannot be stored
    │   ├── UnserializableResult
    │   └── ResultTooLarge
    ├── Abort                the API refused to let the run start or go on (e.g. cancelled)
    ├── CrashedRun           a run ended Crashed
    ├── CancelledRun         a run ended Cancelled
    ├── UnfinishedRun        a run is not in a final state (e.g. `wait_for_flow_run` timed out)
    ├── MissingResult        a state holds no result to return
    ├── MissingContextError  a run-time call (`get_run_logger`) outside any flow or task run
    └── FlowPauseTimeout     a paused run was not resumed within its timeout
NotOffered                   a Prefect feature headrace does not offer (also a TypeError)
Pause (a BaseException)      `suspend_flow_run` ends the flow's process; not an error

Prefect's names for the same exceptions, so that `except` clauses of Prefect scripts work:
`PrefectException` (HeadraceError), `UpstreamTaskError` (UpstreamFailed), `ObjectNotFound`
(headrace.errors.NotFound); `ParameterTypeError` is the class itself, named as in Prefect.
"""

from __future__ import annotations

from headrace.errors import HeadraceError, NotFound


class RunError(HeadraceError):
    """A flow or task run did not complete."""


class FailedRun(RunError):
    """The run failed."""


class UpstreamFailed(RunError):
    """An upstream task run did not complete, so this task run did not start."""


class RunTimeout(RunError, TimeoutError):
    """The run exceeded its timeout."""


class ParameterTypeError(RunError, ValueError):
    """The parameters are not valid for this flow."""


class ResultError(RunError):
    """The result cannot be stored."""


class UnserializableResult(ResultError):
    """The result cannot be serialised."""


class ResultTooLarge(ResultError):
    """The serialised result is over the size limit."""


class Abort(RunError):
    """The API refused to let this run go on."""


class CrashedRun(RunError):
    """The run crashed."""


class CancelledRun(RunError):
    """The run was cancelled."""


class UnfinishedRun(RunError):
    """The run has not reached a final state."""


class MissingResult(RunError):
    """The state holds no result."""


class MissingContextError(RunError, RuntimeError):
    """No flow or task run is in progress here."""


class NotOffered(HeadraceError, TypeError):
    """A Prefect feature that headrace does not offer; the message names it and the section
    of docs/migrating-from-prefect.md that says what to use instead."""


# Prefect's names (`from prefect.exceptions import ...`), for scripts that catch them.
PrefectException = HeadraceError
ParameterError = ParameterTypeError  # headrace's earlier name
UpstreamTaskError = UpstreamFailed
ObjectNotFound = NotFound


class FlowRunWaitTimeout(RunError, TimeoutError):
    """The flow run did not reach a final state within the time given to wait for it."""


class FlowPauseTimeout(RunError):
    """The flow run was paused and not resumed within its timeout."""


class Pause(BaseException):
    """`suspend_flow_run` stops the flow's process here; the run stays Suspended until resumed.
    A BaseException, like Prefect's: a flow's `except Exception` does not swallow it."""
