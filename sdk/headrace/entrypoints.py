"""Loading the function (or flow) a deployment's entrypoint names: `path/to/file.py:function`
(relative to the current directory) or `package.module:function`. `headrace.flows.load_flow`
makes a flow of it: the engine does not import the decorators."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError


class EntrypointError(HeadraceError):
    """The entrypoint cannot be loaded."""


def load_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """The flow object or plain function named by `entrypoint`."""
    location, sep, attribute = entrypoint.rpartition(":")
    if not sep or not location or not attribute:
        raise EntrypointError(f"entrypoint {entrypoint!r} must look like path/to/file.py:function")
    module = _load_module(location)
    try:
        obj = getattr(module, attribute)
    except AttributeError:
        raise EntrypointError(f"{location} has no attribute {attribute!r}") from None
    if callable(obj):
        return obj  # type: ignore[no-any-return]
    raise EntrypointError(f"{entrypoint} is not a flow (a {type(obj).__name__})")


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
