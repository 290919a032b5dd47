"""Fixtures of the hosts suite: certificates of the test's own (certs.py, shared with
bench/remote_hosts.py) and hosts made of network namespaces (netns.py)."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def certs() -> Any:
    """certs.py: `make_server_certificate(folder, addresses)`, `make_ca(folder, name)`."""
    return load("certs")


@pytest.fixture
def host_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Hosts `api` (the server's), `w1`, `w2` (workers) and `ci` (triggers and waits), each with
    its own folder; `.start_api()` starts the server. Everything stops and every namespace and
    link is removed at the end, even when the test failed."""
    netns, stack = load("netns"), load("stack")
    if reason := netns.available():
        pytest.fail(f"the hosts suite cannot make hosts: {reason}")
    network = netns.Network(tmp_path_factory.mktemp("hosts"))
    try:
        hosts = network.open(["w1", "w2", "ci"])
        made = stack.HostStack(hosts, database_url, free_port())
        try:
            yield made
        finally:
            made.stop()
    finally:
        network.close()
