"""The typed client of the headrace API: the transport (retries, backoff, failover, errors) and
one module per resource, each call taking and returning the models of `headrace.schemas`.

    from headrace.client import HeadraceClient, flow_runs

    with HeadraceClient() as client:
        run = flow_runs.read(client, run_id)

No URL path or JSON body is built outside this package. Importing it imports httpx and pydantic:
the rest of the SDK imports it only where it talks to the API.
"""

from headrace.client.transport import HeadraceClient

__all__ = ["HeadraceClient"]
