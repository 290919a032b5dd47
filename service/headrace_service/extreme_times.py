"""Reading timestamps Python cannot hold, so one stored row never makes its run unreadable.

PostgreSQL's timestamptz reaches year 294276 and has ±infinity; Python's datetime stops at year
9999. A row written before the API checked client times (or by hand) with
`9999-12-31T23:59:59-14:00` (year 10000 in UTC) made psycopg fail on every read of it. Each
connection's timestamptz loaders are wrapped: a value out of Python's range reads as
`datetime.max` or `datetime.min` (UTC) instead of failing the whole response.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format

LATEST = datetime.max.replace(tzinfo=UTC)
EARLIEST = datetime.min.replace(tzinfo=UTC)
_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


class _TolerantTextLoader(Loader):
    format = Format.TEXT
    _inner_class = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        assert self._inner_class is not None
        self._inner = self._inner_class(oid, context)

    def load(self, data: Buffer) -> Any:
        try:
            return self._inner.load(data)
        except psycopg.DataError:
            return self._bound(bytes(data))

    @staticmethod
    def _bound(data: bytes) -> datetime:
        # "-infinity", or a BC date: before year 1; "infinity" or year 10000+: after 9999.
        return EARLIEST if data.startswith(b"-") or data.endswith(b"BC") else LATEST


class _TolerantBinaryLoader(_TolerantTextLoader):
    format = Format.BINARY
    _inner_class = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.BINARY)

    @staticmethod
    def _bound(data: bytes) -> datetime:
        # Microseconds since 2000-01-01 as a signed 64-bit integer.
        return EARLIEST if struct.unpack(">q", data)[0] < 0 else LATEST


def tolerate_extreme_times(dbapi_connection: Any, _record: Any = None) -> None:
    """SQLAlchemy `connect` listener: install the tolerant loaders on a new connection."""
    adapters = dbapi_connection.driver_connection.adapters
    adapters.register_loader("timestamptz", _TolerantTextLoader)
    adapters.register_loader("timestamptz", _TolerantBinaryLoader)
