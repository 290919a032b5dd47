"""The server's own logs: plain text, or JSON lines with `HEADRACE_LOG_FORMAT=json`.

Every line carries the id of the request it was logged in (see `request_ids`), and API keys
are masked in case one ever reaches a message (no code logs headers, but a message quoting a
bad value must not leak a key).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from headrace_service.request_ids import current_request_id
from headrace_service.settings import ServerSettings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# API keys are hr_ + 32 or more characters; also "Bearer <anything>" should a header leak.
_SECRETS = re.compile(r"\bhr_[A-Za-z0-9_-]{8,}|(?i:bearer)\s+\S+")


def mask_secrets(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` (None outside a request) and masks secrets in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        message = mask_secrets(record.getMessage())
        record.msg, record.args = message, None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The first line, before any traceback that `format` appends.
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(settings: ServerSettings) -> None:
    """Route every logger (uvicorn's too: run it with `log_config=None`) to one handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter())
    json_lines = settings.log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    # pgserver narrates every postgres command at INFO; only its problems matter here.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Below debug the console is the start line, then problems only: APScheduler's lines for
    # every loop pass (4 every 5 s) show at debug.
    quiet = settings.log_level != "debug"
    logging.getLogger("apscheduler").setLevel(logging.WARNING if quiet else logging.DEBUG)


def uvicorn_log_level(settings: ServerSettings) -> str:
    """uvicorn sets its loggers' level itself: its start-up and shutdown narration (the start
    line already says where the server listens) shows at debug only."""
    return "warning" if settings.log_level == "info" else settings.log_level


def announce(settings: ServerSettings, message: str) -> None:
    """A line for the person who started the server: printed, or a log line in JSON mode so
    that every line of the output parses."""
    if settings.log_format == "json":
        logging.getLogger("headrace.server").info(message)
    else:
        print(message, flush=True)
