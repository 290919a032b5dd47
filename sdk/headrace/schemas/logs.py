"""Log lines of flow and task runs, sent in batches."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from headrace.schemas.common import Model, ReadModel

MAX_LOG_BATCH = 5000
MAX_LOG_MESSAGE = 100_000


class LogCreate(Model):
    flow_run_id: uuid.UUID
    task_run_id: uuid.UUID | None = None
    level: int = Field(ge=0, le=100)
    name: str = Field(max_length=200)
    message: str = Field(max_length=MAX_LOG_MESSAGE)
    # A time the client reports, as `ReportedTime` is, but replaced by the server as it stores
    # the line when implausible (store/logs.py): the same rule, applied in the one statement
    # that inserts the batch rather than by a Python call per line, a third of the API's time
    # per line while flows log at full speed. Strict: a text time, which PostgreSQL reads as
    # pydantic does (the API stores the batch's JSON text as it came), not a number.
    timestamp: datetime = Field(strict=True)


class LogBatch(Model):
    logs: list[LogCreate] = Field(max_length=MAX_LOG_BATCH)


class Log(ReadModel):
    id: int
    flow_run_id: uuid.UUID
    task_run_id: uuid.UUID | None = None
    level: int
    name: str
    message: str
    timestamp: datetime


class LogList(ReadModel):
    items: list[Log]
    # Pass back as `after` to read only newer lines (tailing).
    next_after: int | None = None


class LogQuery(ReadModel):
    after: int | None = Field(default=None, ge=0, le=2**63 - 1)
    level: int = Field(default=0, ge=0, le=100)
    limit: int = Field(default=1000, ge=1, le=10_000)
