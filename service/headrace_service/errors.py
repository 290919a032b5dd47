"""Errors of the service and the one table that maps them to HTTP statuses.

ServiceError
├── Unauthorized         401  no API key, or one that is unknown, revoked or expired
├── Forbidden            403  an API key whose scope is too small
├── NotFoundError        404  an id or name that does not exist
├── ConflictError        409  a refused transition, a duplicate, a lease held by another
├── InvalidInput         422  input that passed the schema but makes no sense
├── PayloadTooLarge      413  a body over its limit
├── UnsupportedMediaType 415  a JSON body not sent as application/json
└── DatabaseUnavailable  503  the database cannot be reached right now
"""

from __future__ import annotations


class ServiceError(Exception):
    """The request failed."""

    status_code = 500

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or (self.__doc__ or "error").strip())
        self.detail = detail or (self.__doc__ or "error").strip()


class Unauthorized(ServiceError):
    """An API key is needed."""

    status_code = 401


class Forbidden(ServiceError):
    """The API key's scope does not allow this."""

    status_code = 403


class NotFoundError(ServiceError):
    """Not found."""

    status_code = 404


class ConflictError(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409


class InvalidInput(ServiceError):
    """The input is not valid."""

    status_code = 422


class PayloadTooLarge(ServiceError):
    """The request body is too large."""

    status_code = 413


class UnsupportedMediaType(ServiceError):
    """The body must be sent as JSON, with `Content-Type: application/json`."""

    status_code = 415


class DatabaseUnavailable(ServiceError):
    """The database is unavailable; retry shortly."""

    status_code = 503


class StartupError(Exception):
    """The server cannot start (said in one line to the user)."""
