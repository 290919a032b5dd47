"""Run logs: `get_run_logger()`, and the handler that sends run log records to the API.

Records of the `headrace.run` logger carry the ids of their run (set by the adapter that
`get_run_logger` returns), so they are attributed correctly from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from headrace.context import flow_run_context, task_run_context
from headrace.exceptions import MissingContextError
from headrace.ports.backend import get_current_backend
from headrace.redaction import redact
from headrace.reporter import LogLine

RUN_LOGGER = "headrace.run"
PRINT_LOGGER = "headrace.print"

# Set by a worker that forwards this process's stdout/stderr into the run's logs: what the
# process sends to the API itself is then not echoed to the console, so no line appears twice.
# (Read with os.environ, not the settings: this module stays free of pydantic.)
OUTPUT_FORWARDED_ENV = "HEADRACE_OUTPUT_FORWARDED"

_setup_lock = threading.Lock()
_setup_done = False


def output_forwarded() -> bool:
    return os.environ.get(OUTPUT_FORWARDED_ENV) == "1"


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose records are attributed to one flow or task run."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = (
            {**self.extra, **kwargs.get("extra", {})} if self.extra else kwargs.get("extra")
        )
        return msg, kwargs


def get_run_logger() -> RunLogger:
    """The logger of the flow or task run in progress; its lines reach the run's logs."""
    task_ctx = task_run_context.get()
    flow_ctx = flow_run_context.get()
    if task_ctx is not None:
        record = task_ctx.record
        return run_logger(record.flow_run_id, record.id, f"Task run {record.name!r}")
    if flow_ctx is not None:
        return run_logger(flow_ctx.flow_run_id, None, f"Flow run {flow_ctx.flow_run_name!r}")
    if logging.getLogger(RUN_LOGGER).disabled:
        # Inside `disable_run_logger()`: a task's `.fn` tested alone logs nowhere, as in Prefect.
        return RunLogger(_disabled_logger(), {})
    raise MissingContextError("get_run_logger() works only inside a flow or task run")


def _disabled_logger() -> logging.Logger:
    null = logging.getLogger("headrace.null")
    null.disabled = True
    return null


def get_logger(name: str | None = None) -> logging.Logger:
    """The `headrace` logger, or its child `headrace.<name>` (console only, not a run's logs)."""
    root = logging.getLogger("headrace")
    if not name:
        return root
    return logging.getLogger(name) if name.startswith("headrace.") else root.getChild(name)


@contextlib.contextmanager
def disable_run_logger() -> Iterator[None]:
    """Within the block, run loggers log nothing, and `get_run_logger()` outside a run returns
    a silent logger instead of raising (for testing a task's function alone)."""
    run = logging.getLogger(RUN_LOGGER)
    was = run.disabled
    run.disabled = True
    try:
        yield
    finally:
        run.disabled = was


def run_logger(
    flow_run_id: uuid.UUID,
    task_run_id: uuid.UUID | None,
    label: str,
    *,
    logger_name: str = RUN_LOGGER,
) -> RunLogger:
    """A logger attributed to a run; `logger_name=PRINT_LOGGER` for captured prints."""
    setup_logging()
    return RunLogger(
        logging.getLogger(logger_name),
        {
            "headrace_flow_run_id": flow_run_id,
            "headrace_task_run_id": task_run_id,
            "headrace_run_label": label,
        },
    )


class ApiLogHandler(logging.Handler):
    """Hands run log records to the backend's reporter (which batches them)."""

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "headrace_flow_run_id", None)
        if flow_run_id is None:
            return
        backend = get_current_backend()
        if backend is None or not backend.online:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self.formatter_exception(record)}"
            message = redact(message)
            task_run_id = getattr(record, "headrace_task_run_id", None)
            backend.logs.log(
                LogLine(
                    flow_run_id=flow_run_id,
                    task_run_id=task_run_id or None,
                    level=record.levelno,
                    name=record.name,
                    message=message[:100_000],
                    timestamp=datetime.fromtimestamp(record.created, UTC),
                )
            )
        except Exception:
            self.handleError(record)

    @staticmethod
    def formatter_exception(record: logging.LogRecord) -> str:
        assert record.exc_info is not None
        return logging.Formatter().formatException(record.exc_info)


class ConsoleFormatter(logging.Formatter):
    """`12:00:01.123 | INFO    | Task run 'fetch-0' - message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        label = getattr(record, "headrace_run_label", None)
        text = redact(super().format(record))
        if label:
            head, sep, tail = text.partition(" | ")
            level, sep2, message = tail.partition(" | ")
            return f"{head}{sep}{level}{sep2}{label} - {message}"
        return text


def setup_logging() -> None:
    """Once per process: the API handler on run loggers, a console handler on `headrace`
    unless the application configured that logger itself."""
    global _setup_done
    if _setup_done:
        return
    with _setup_lock:
        if _setup_done:
            return
        api_handler = ApiLogHandler()
        run = logging.getLogger(RUN_LOGGER)
        run.addHandler(api_handler)
        printed = logging.getLogger(PRINT_LOGGER)
        printed.addHandler(api_handler)
        printed.setLevel(logging.INFO)
        # A printed line is on the console already: it goes to the API only.
        printed.propagate = False
        root = logging.getLogger("headrace")
        if not root.handlers:
            console = logging.StreamHandler(sys.stderr)
            console.setFormatter(ConsoleFormatter())
            if output_forwarded():
                # Run records reach the API through ApiLogHandler; the worker forwards the rest.
                console.addFilter(lambda r: getattr(r, "headrace_flow_run_id", None) is None)
            root.addHandler(console)
            root.setLevel(logging.INFO)
            root.propagate = False
        _setup_done = True
