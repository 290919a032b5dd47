"""The names of the work pool types this version of headrace knows.

A pool type is what a worker does with a claimed run (the worker's `headrace_worker.pool_types`
holds the implementations). The names live here, in the SDK, so the service can refuse an unknown
type (422 listing these) and the CLI can list them without importing the worker.
"""

from __future__ import annotations

PROCESS = "process"

# Every type a worker can serve; a new type adds its name here and its runner in the worker.
KNOWN_POOL_TYPES: tuple[str, ...] = (PROCESS,)


def unknown_pool_type_message(name: str) -> str:
    """The one-line error for a pool type nobody implements."""
    return f"unknown work pool type {name!r}; known types: {', '.join(KNOWN_POOL_TYPES)}"
