"""Exceptions that flows and tasks raise at run time (the API errors are in `headrace.errors`).

HeadraceError                (headrace.errors)
└── RunError
    ├── FailedRun            a run ended Failed and its own exception is not at hand
    ├── UpstreamFailed       a task's upstream future did not complete
    ├── RunTimeout           an attempt exceeded `timeout_seconds` (also a TimeoutError)
    ├── ParameterError       the parameters do not match the flow's type hints
    ├── ResultError          a result cannot be stored
    │   ├── UnserializableResult
    │   └── ResultTooLarge
    └── Abort                the API refused to let the run start or go on (e.g. cancelled)
"""

from __future__ import annotations

from headrace.errors import HeadraceError


class RunError(HeadraceError):
    """A flow or task run did not complete."""


class FailedRun(RunError):
    """The run failed."""


class UpstreamFailed(RunError):
    """An upstream task run did not complete, so this task run did not start."""


class RunTimeout(RunError, TimeoutError):
    """The run exceeded its timeout."""


class ParameterError(RunError, ValueError):
    """The parameters are not valid for this flow."""


class ResultError(RunError):
    """The result cannot be stored."""


class UnserializableResult(ResultError):
    """The result cannot be serialised."""


class ResultTooLarge(ResultError):
    """The serialised result is over the size limit."""


class Abort(RunError):
    """The API refused to let this run go on."""
