"""`with tags("a", "b"):` adds tags to the flow and task runs created inside the block."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current_tags: ContextVar[frozenset[str]] = ContextVar("headrace_tags", default=frozenset())


@contextmanager
def tags(*new_tags: str) -> Iterator[frozenset[str]]:
    """Add tags to every run created in this block (nested blocks add up)."""
    token = _current_tags.set(_current_tags.get() | frozenset(new_tags))
    try:
        yield _current_tags.get()
    finally:
        _current_tags.reset(token)


def current_tags() -> frozenset[str]:
    return _current_tags.get()


def merge_tags(own: Iterable[str]) -> list[str]:
    """A run's own tags plus those of enclosing `with tags(...)` blocks, sorted."""
    ambient = _current_tags.get()
    if not ambient:
        return sorted(own) if own else []
    return sorted(ambient.union(own))
