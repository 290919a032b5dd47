"""Variables: named JSON values shared by flows, deployments and people (Prefect 3's
`prefect.variables`).

    from headrace.variables import Variable

    Variable.set("threshold", 0.8, overwrite=True)
    Variable.get("threshold", default=0.5)
    Variable.unset("threshold")

In an async flow or task, `await` them (or call `aget`, `aset`, `aunset`). A variable also fills
`{{ variables.NAME }}` in a deployment's parameters and job variables when its run is claimed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from headrace.async_dispatch import async_dispatch
from headrace.errors import Conflict, NotFound
from headrace.run_api import caller

__all__ = ["Variable"]


def _client() -> Any:
    who = caller()
    if who.client is None:
        # A variable's value cannot be made up: say why it cannot be read.
        from headrace.errors import ApiUnreachable

        raise ApiUnreachable("variables need the headrace API, and this run has none")
    return who.client


def _get(name: str, default: Any) -> Any:
    from headrace.client import variables

    try:
        return variables.read(_client(), name).value
    except NotFound:
        return default


def _set(name: str, value: Any, tags: list[str] | None, overwrite: bool) -> Variable:
    from headrace.client import variables
    from headrace.schemas.variables import VariableCreate, VariableSet

    client = _client()
    if overwrite:
        stored = variables.set_variable(client, name, VariableSet(value=value, tags=tags or []))
    else:
        try:
            stored = variables.create(
                client, VariableCreate(name=name, value=value, tags=tags or [])
            )
        except Conflict:
            raise ValueError(
                f"Variable {name!r} already exists. Use `overwrite=True` to update it."
            ) from None
    return Variable(name=stored.name, value=stored.value, tags=stored.tags)


def _unset(name: str) -> bool:
    from headrace.client import variables

    try:
        variables.delete(_client(), name)
    except NotFound:
        return False
    return True


class Variable(BaseModel):
    """A named JSON value stored by the headrace API."""

    name: str = Field(description="The variable's name.")
    value: Any = Field(description="Its JSON value.")
    tags: list[str] | None = None

    @classmethod
    async def aget(cls, name: str, default: Any = None) -> Any:
        return await asyncio.to_thread(_get, name, default)

    @classmethod
    @async_dispatch(aget)
    def get(cls, name: str, default: Any = None) -> Any:
        """The variable's value; `default` when there is no such variable."""
        return _get(name, default)

    @classmethod
    async def aset(
        cls, name: str, value: Any, tags: list[str] | None = None, overwrite: bool = False
    ) -> Variable:
        return await asyncio.to_thread(_set, name, value, tags, overwrite)

    @classmethod
    @async_dispatch(aset)
    def set(
        cls, name: str, value: Any, tags: list[str] | None = None, overwrite: bool = False
    ) -> Variable:
        """Store a variable; one that exists is replaced only with `overwrite=True`
        (`ValueError` otherwise)."""
        return _set(name, value, tags, overwrite)

    @classmethod
    async def aunset(cls, name: str) -> bool:
        return await asyncio.to_thread(_unset, name)

    @classmethod
    @async_dispatch(aunset)
    def unset(cls, name: str) -> bool:
        """Delete a variable: True if it existed."""
        return _unset(name)
