"""Results stored for task caching: bytes made by the SDK's serializer, sent as base64."""

from __future__ import annotations

from datetime import datetime

from pydantic import Base64Bytes, Field

from headrace.schemas.common import Model, ReadModel, StorableTime

# The API refuses bigger results; the SDK's own limit (HEADRACE_RESULT_MAX_BYTES) is lower.
MAX_RESULT_BYTES = 64 * 1024 * 1024
MAX_KEY = 200


class ResultWrite(Model):
    # "json", "pickle", or the name of a serializer object of the user's (read back with it).
    serializer: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/-]+$")
    data: Base64Bytes = Field(description="The serialised result, base64-encoded.")
    expires_at: StorableTime | None = None


class ResultStored(ReadModel):
    key: str
    serializer: str
    expires_at: datetime | None = None
    created: datetime


class Result(ResultStored):
    data: Base64Bytes = Field(description="The serialised result, base64-encoded.")
