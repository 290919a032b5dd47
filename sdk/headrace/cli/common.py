"""What every command that talks to the API shares: the client and error handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import ValidationError

from headrace.cli.exits import fail
from headrace.client import HeadraceClient
from headrace.client.transport import detail_text
from headrace.errors import ApiError, ApiUnreachable
from headrace.profiles import ProfileError
from headrace.schemas.names import MAX_NAME, resource_name_problem

if TYPE_CHECKING:
    from headrace.schemas.deployments import Deployment


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


def split_name(full_name: str) -> tuple[str, str]:
    """`etl/daily` -> (`etl`, `daily`); a one-line error without a slash."""
    flow_name, sep, name = full_name.partition("/")
    if not sep or not flow_name or not name:
        fail(f"deployment {full_name!r}: expected FLOW/NAME, e.g. etl/daily")
    for part in (flow_name, name):
        problem = resource_name_problem(part.strip())
        if problem is not None:
            fail(f"deployment {full_name[: 2 * MAX_NAME]!r}: {problem}")
    return flow_name.strip(), name.strip()


def read_by_full_name(client: HeadraceClient, full_name: str) -> Deployment:
    """The deployment named `FLOW/NAME`."""
    from headrace.client import deployments  # only the commands that name a deployment

    return deployments.read_by_name(client, *split_name(full_name))
