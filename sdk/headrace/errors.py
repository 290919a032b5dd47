"""Errors raised by the SDK and the CLI.

HeadraceError
├── ApiError            the API answered with an error status
│   ├── NotFound        404
│   └── Conflict        409: a refused state transition or a duplicate
├── ApiUnreachable      no connection to the API
└── SettingsError       a HEADRACE_* setting is invalid (the message names it)
    └── ApiUntrusted    the API's TLS certificate is not trusted (HEADRACE_API_CA_FILE)
"""

from __future__ import annotations


class HeadraceError(Exception):
    """headrace failed."""


class ApiError(HeadraceError):
    """The API refused the request."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status_code})")
        self.status_code = status_code
        self.detail = detail


class NotFound(ApiError):
    """Not found."""


class Conflict(ApiError):
    """The request conflicts with the current state."""


class ApiUnreachable(HeadraceError):
    """The API cannot be reached."""


class SettingsError(HeadraceError, ValueError):
    """A client setting is invalid; the message names it and says why, in one line."""


class ApiUntrusted(SettingsError):
    """The API's TLS certificate is not trusted: a setting to fix, not an outage to wait out."""
