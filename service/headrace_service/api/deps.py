"""What endpoints need from the app's state (the database, the settings, the notifier) and
row-to-model conversion."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import RowMapping
from starlette.requests import Request

from headrace_service.app_state import request_database, request_state
from headrace_service.db import Database
from headrace_service.notifier import Notifier
from headrace_service.settings import ServerSettings

M = TypeVar("M", bound=BaseModel)


def db(request: Request) -> Database:
    return request_database(request)


def settings(request: Request) -> ServerSettings:
    return request_state(request)["settings"]


def notifier(request: Request) -> Notifier:
    return request_state(request)["notifier"]


def to_model(model: type[M], row: RowMapping) -> M:
    return model.model_validate(dict(row))


def live_pages_listen(request: Request) -> bool:
    """Whether ingestion should NOTIFY live run pages: not when LISTEN is off (a NOTIFY takes
    a cluster-wide lock at commit, for nobody to hear)."""
    return notifier(request).enabled
