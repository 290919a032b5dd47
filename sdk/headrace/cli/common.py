"""What every command that talks to the API shares: the client and error handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from headrace.cli.output import fail
from headrace.client import HeadraceClient
from headrace.client.transport import detail_text
from headrace.errors import ApiError, ApiUnreachable
from headrace.profiles import ProfileError


@contextmanager
def api() -> Iterator[HeadraceClient]:
    """A client; API errors become one-line CLI errors with exit code 2."""
    try:
        with HeadraceClient(retries=1) as client:
            yield client
    except ApiUnreachable as error:
        fail(f"{error} (is `headrace server start` running? set HEADRACE_API_URL otherwise)")
    except ApiError as error:
        fail(error.detail)
    except ProfileError as error:
        fail(str(error))
    except ValidationError as error:
        # A request the client checks before sending: the same one line as the server's 422.
        fail(detail_text(error.errors(include_url=False)))
