"""The typed client of the headrace API: the transport (retries, backoff, failover, errors) and
one module per resource, each call taking and returning the models of `headrace.schemas`.

    from headrace.client import HeadraceClient, flow_runs

    with HeadraceClient() as client:
        run = flow_runs.read(client, run_id)

No URL path or JSON body is built outside this package. Importing it imports httpx and pydantic:
the rest of the SDK imports it only where it talks to the API.
"""

import sys

# httpx's package imports its command-line tool (`httpx.main`: click, rich and pygments, about
# half of httpx's import time) whenever those are installed, and every flow process pays it
# before its first line runs. No client uses that tool: marking the module absent makes httpx
# define its fallback `main` instead. Left alone when httpx was imported already.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from headrace.client.transport import HeadraceClient

__all__ = ["HeadraceClient"]
