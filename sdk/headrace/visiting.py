"""Walking a value through its containers, replacing some leaves: how futures nested anywhere in
a task's arguments are found and replaced by their results.

Containers walked: lists, tuples (named ones too), sets, frozensets, dicts (and their
subclasses), dataclass instances and pydantic models. A container none of whose items changed is
returned as the same object, so arguments without futures cost one pass and no copies.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

# A visitor returns this to say "not a leaf of mine: look inside it".
DESCEND: Any = object()

# Containers are searched this deep; deeper values are passed as they are (bounded work).
MAX_DEPTH = 32

_ATOMS = (str, bytes, int, float, bool, type(None), complex)

Visitor = Callable[[Any], Any]


def walk(value: Any, visitor: Visitor, depth: int = 0) -> Any:
    """`value` with every leaf the visitor replaces replaced (the visitor returns `DESCEND` for
    values it leaves to the walk)."""
    replaced = visitor(value)
    if replaced is not DESCEND:
        return replaced
    if depth >= MAX_DEPTH or isinstance(value, _ATOMS):
        return value
    return _rebuild(value, lambda item: walk(item, visitor, depth + 1))


def _rebuild(value: Any, child: Visitor) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        new = [child(item) for item in items]
        if _same(items, new):
            return value
        if isinstance(value, list):
            return _refill_list(value, new)
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*new)
        return type(value)(new)
    if isinstance(value, dict):
        pairs = list(value.items())
        new_values = [child(v) for _, v in pairs]
        if _same([v for _, v in pairs], new_values):
            return value
        rebuilt = copy.copy(value)  # keeps a subclass (OrderedDict, defaultdict) and its extras
        for (key, _), new_value in zip(pairs, new_values, strict=True):
            rebuilt[key] = new_value
        return rebuilt
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
        return _with_fields(value, names, child)
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict) and hasattr(value, "model_copy"):  # a pydantic model
        return _with_fields(value, list(fields), child)
    return value


def _with_fields(value: Any, names: list[str], child: Visitor) -> Any:
    """A shallow copy of the object with the changed fields set; the object if none changed.
    Set without calling __init__ (or validators): the value was valid, its fields now hold what
    the futures stood for."""
    changed = {}
    for name in names:
        old = getattr(value, name)
        new = child(old)
        if new is not old:
            changed[name] = new
    if not changed:
        return value
    rebuilt = copy.copy(value)
    for name, new in changed.items():
        object.__setattr__(rebuilt, name, new)  # a frozen dataclass refuses setattr
    return rebuilt


def _refill_list(original: list[Any], items: list[Any]) -> list[Any]:
    if type(original) is list:
        return items
    rebuilt = copy.copy(original)
    rebuilt[:] = items
    return rebuilt


def _same(old: list[Any], new: list[Any]) -> bool:
    return all(a is b for a, b in zip(old, new, strict=True))
