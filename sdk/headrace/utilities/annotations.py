"""Wrappers that change how a task argument is treated before the task runs.

By default every future or state found in an argument (at any depth of lists, tuples, sets,
dicts, dataclasses and pydantic models) is waited for and replaced by its result. These say
otherwise for one argument:

- `allow_failure(x)`: run even if an upstream in `x` failed; the task receives its exception.
- `quote(x)`: pass `x` exactly as given; nothing inside it is waited for or replaced.
- `opaque(x)`: if `x` is a future or a state, wait for it and pass its result, but do not search
  that result (or `x` itself, if it is a container) for futures: a large value is not walked.
- `unmapped(x)`: for `task.map`, pass `x` whole to every run instead of iterating over it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class BaseAnnotation(Generic[T]):
    """A value wrapped with an instruction for the engine; `unwrap()` gives the value back."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        return self.value

    def rewrap(self, value: T) -> BaseAnnotation[T]:
        return type(self)(value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self), self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class allow_failure(BaseAnnotation[T]):
    """Run the downstream task even if this upstream failed (it receives the exception)."""


class unmapped(BaseAnnotation[T]):
    """An argument of `task.map` passed whole to every run instead of iterated over."""


class quote(BaseAnnotation[T]):
    """Pass the value as is: no future inside it is waited for, no state replaced."""

    def unquote(self) -> T:
        return self.value


class opaque(BaseAnnotation[T]):
    """Resolve a future or state given directly, but never search inside the value."""


__all__ = ["BaseAnnotation", "allow_failure", "opaque", "quote", "unmapped"]
