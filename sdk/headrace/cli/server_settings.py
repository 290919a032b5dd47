"""The server's settings, as the `headrace server` commands read them: a bad `HEADRACE_*`
variable is a one-line error naming it, like the client's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from headrace.cli.exits import fail
from headrace.settings import settings_error_message

if TYPE_CHECKING:
    from headrace_service.settings import ServerSettings


def load_server_settings(**overrides: Any) -> ServerSettings:
    """`ServerSettings` from the environment and `overrides` (needs the [server] extra)."""
    from headrace_service.settings import ServerSettings

    try:
        return ServerSettings(**overrides)
    except ValidationError as error:
        fail(settings_error_message(error))
