"""The table of `headrace work-pool ls`, from plain values: the typed command and the quick one
(`headrace.cli.quick`) print the same rows."""

from __future__ import annotations

COLUMNS = ("Name", "Type", "Concurrency", "Paused", "Workers online", "Runs waiting")


def limit_text(limit: int | None) -> str:
    return "unlimited" if limit is None else str(limit)


def row(
    name: str,
    pool_type: str,
    concurrency_limit: int | None,
    paused: bool,
    workers_online: int,
    runs_waiting: int,
) -> tuple[str, ...]:
    return (
        name,
        pool_type,
        limit_text(concurrency_limit),
        "yes" if paused else "no",
        str(workers_online),
        str(runs_waiting),
    )
