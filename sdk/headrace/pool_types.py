"""Work pool types are plug-ins, found by entry point in the group `headrace.pool_types`.

A pool type is what a worker does with a claimed run. Each is registered by the distribution that
implements it (headrace registers `process`, in its pyproject.toml), so a new type (docker, say)
is a package of its own and needs no edit here or in the service. Reading the entry points only
reads installed metadata: the CLI can list and check the types installed on this host without
importing the worker. The service accepts any well-formed type name: a pool is usually created
before any worker of its type runs, maybe on another host.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

PROCESS = "process"
ENTRY_POINT_GROUP = "headrace.pool_types"


def installed_pool_types() -> dict[str, EntryPoint]:
    """The pool types installed here, by name (the entry point loads the type's class)."""
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


# Prefect's pool types that run on Prefect Cloud's side (push, managed): no plug-in can be one.
_CLOUD_SUFFIXES = (":push", ":managed")


def unknown_pool_type_message(name: str) -> str:
    """The one-line error for a pool type no installed plug-in implements."""
    if name.endswith(_CLOUD_SUFFIXES):
        return (
            f"work pool type {name!r} is a Prefect Cloud feature headrace does not offer: "
            "see docs/migrating-from-prefect.md#not-supported"
        )
    known = ", ".join(sorted(installed_pool_types())) or "none"
    return f"unknown work pool type {name!r}; installed types: {known}"
