"""The service's application state, typed: what the lifespan opens once and requests use.

The lifespan of `create_app` (app.py) yields an `AppState`. The ASGI server keeps it and hands
each request a shallow copy as `scope["state"]` (Starlette's "lifespan state"), which
`request_state(request)` returns typed. A request may add keys of its own to its copy
(`RequestState`); other requests never see them. Code that is not a request handler (the
background loops, the lifespan itself) is given what it needs as arguments instead.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict, cast

from starlette.requests import HTTPConnection

from headrace_service.block_crypto import BlockCipher
from headrace_service.db import Database
from headrace_service.metrics_snapshot import SnapshotCache
from headrace_service.migration_check import MigrationCheck
from headrace_service.notifier import Notifier
from headrace_service.principal import Principal
from headrace_service.settings import ServerSettings


class AppState(TypedDict):
    """Made by the lifespan; lives as long as the app serves."""

    settings: ServerSettings
    # The main pool, for requests and the background loops.
    db: Database
    # Lease renewals only: requests that exhaust the main pool cannot make leases expire.
    lease_db: Database
    # The one LISTEN connection that waiting claims, run waits and live pages subscribe to.
    notifier: Notifier
    # Whether the schema is current, for /api/ready (caches a "yes" for a while).
    migration_check: MigrationCheck
    # The database gauges of /metrics, shared by concurrent scrapes.
    metrics_snapshots: SnapshotCache
    # Log batches written at once: at most half the main pool, so that however fast flows log,
    # reads and state changes find a connection (the other batches wait, their clients too).
    log_writers: asyncio.Semaphore
    # Encrypts and decrypts the secret fields of blocks (block_crypto.py).
    block_cipher: BlockCipher


class RequestState(AppState, total=False):
    """The app's state plus what one request adds to its own copy."""

    # The pool of this request's route (api/routing.py); the main pool when absent.
    database: Database
    # The API key the request was authenticated with (auth.py), once checked.
    principal: Principal


def request_state(request: HTTPConnection) -> RequestState:
    """This request's state, typed."""
    state = request.scope.get("state")
    if state is None or "db" not in state:
        raise RuntimeError(
            "this request has no application state: the app's lifespan did not run "
            "(serve the app with its lifespan on)"
        )
    return cast(RequestState, state)


def request_database(request: HTTPConnection) -> Database:
    """The database of this request: the lease pool for the routes that renew leases (chosen
    by the route, see api/routing.py), the main pool for everything else."""
    state = request_state(request)
    return state.get("database", state["db"])
