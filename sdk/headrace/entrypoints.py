"""Loading the object a deployment's entrypoint names: `path/to/file.py:function` (relative to
the current directory) or `package.module:function`. `headrace.flows.require_flow` then refuses
anything but a flow, before it is called: the engine does not import the decorators.

An entrypoint names your code: one in a module of Python's standard library (`os:system`,
`subprocess:call`) is refused before anything is imported, by the API (a 422) and here."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError


class EntrypointError(HeadraceError):
    """The entrypoint cannot be loaded."""


def standard_library_refusal(entrypoint: str) -> str | None:
    """Why `entrypoint` is refused if it is `module:function` in a module of the standard
    library; None otherwise (`path/to/file.py:function` names a file of your code folder)."""
    location = entrypoint.rpartition(":")[0]
    top = location.partition(".")[0]
    if location.endswith(".py") or not (
        top in sys.stdlib_module_names or top in sys.builtin_module_names
    ):
        return None
    return (
        f"entrypoint {entrypoint!r} names the standard-library module {top!r}, not a flow: an "
        "entrypoint names a @flow function of your code (path/to/file.py:function)"
    )


def load_entrypoint(entrypoint: str) -> object:
    """The object named by `entrypoint` (a flow, if the code is right: see flows.require_flow)."""
    location, sep, attribute = entrypoint.rpartition(":")
    if not sep or not location or not attribute:
        raise EntrypointError(f"entrypoint {entrypoint!r} must look like path/to/file.py:function")
    refused = standard_library_refusal(entrypoint)
    if refused is not None:
        raise EntrypointError(refused)
    module = _load_module(location)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise EntrypointError(f"{location} has no attribute {attribute!r}") from None


def _load_module(location: str) -> Any:
    if not location.endswith(".py"):
        try:
            return importlib.import_module(location)
        except ImportError as exc:
            raise EntrypointError(f"cannot import {location}: {exc}") from exc
    path = Path(location)
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_file():
        raise EntrypointError(f"no such file: {path}")
    # The file's folder comes first on sys.path, so its sibling modules import as in a script.
    sys.path.insert(0, str(path.parent))
    name = f"headrace_flow_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EntrypointError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EntrypointError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module
