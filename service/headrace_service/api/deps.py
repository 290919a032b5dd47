"""What endpoints need from the app: the database, the settings, row-to-model conversion."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import RowMapping
from starlette.requests import Request

from headrace_service.db import Database, request_database
from headrace_service.settings import ServerSettings

M = TypeVar("M", bound=BaseModel)


def db(request: Request) -> Database:
    return request_database(request)


def settings(request: Request) -> ServerSettings:
    value: ServerSettings = request.app.state.settings
    return value


def to_model(model: type[M], row: RowMapping) -> M:
    return model.model_validate(dict(row))


def live_pages_listen(request: Request) -> bool:
    """Whether ingestion should NOTIFY live run pages: not when LISTEN is off (a NOTIFY takes
    a cluster-wide lock at commit, for nobody to hear)."""
    listening: bool = request.app.state.notifier.enabled
    return listening
