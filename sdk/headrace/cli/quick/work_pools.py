"""`headrace work-pool ls`, quick: the pools' table from one GET, without the typed client."""

from __future__ import annotations

from typing import Any

from headrace.cli.quick.http import get_json
from headrace.cli.quick.settings import quick_settings
from headrace.cli.quick.table import console_shape, render
from headrace.cli.work_pool_table import COLUMNS, row


def ls() -> str | None:
    """The table `headrace work-pool ls` prints, or None (the typed command prints it)."""
    shape = console_shape()
    settings = quick_settings()
    if shape is None or settings is None:
        return None
    pools = get_json(settings, "/work_pools")
    if not isinstance(pools, list):
        return None
    rows = [_row(pool) for pool in pools]
    if any(r is None for r in rows):
        return None
    return render(COLUMNS, [r for r in rows if r is not None], *shape)


def _row(pool: Any) -> tuple[str, ...] | None:
    # The fields `WorkPool` reads, of exactly the types it reads them as (an int that came as a
    # float, a missing required field...: the typed command decides); defaults as its defaults.
    if not isinstance(pool, dict):
        return None
    name, pool_type, paused = pool.get("name"), pool.get("type"), pool.get("paused")
    limit = pool.get("concurrency_limit")
    online, waiting = pool.get("workers_online", 0), pool.get("runs_waiting", 0)
    if not (isinstance(name, str) and isinstance(pool_type, str) and type(paused) is bool):
        return None
    if not all(type(n) is int for n in (online, waiting)) or not (
        limit is None or type(limit) is int
    ):
        return None
    if not all(isinstance(pool.get(key), str) for key in ("id", "created", "updated")):
        return None
    return row(name, pool_type, limit, paused, online, waiting)
