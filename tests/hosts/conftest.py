"""Fixtures of the hosts suite: certificates of the test's own (certs.py, shared with
bench/remote_hosts.py) and hosts made of network namespaces (netns.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def load(name: str) -> ModuleType:
    """A helper module of this folder, loaded once (tests/ is not a package)."""
    key = f"_hosts_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture
def certs() -> Any:
    """certs.py: `make_server_certificate(folder, addresses)`, `make_ca(folder, name)`."""
    return load("certs")
