"""The module-level `__getattr__` of each runtime module: an attribute is read when asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def attribute_reader(
    module: str, getters: dict[str, Callable[[], Any]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for a module whose attributes are `getters`' answers."""

    def __getattr__(name: str) -> Any:
        getter = getters.get(name)
        if getter is None:
            raise AttributeError(f"{module} has no attribute {name!r}")
        return getter()

    def __dir__() -> list[str]:
        return sorted(getters)

    return __getattr__, __dir__
