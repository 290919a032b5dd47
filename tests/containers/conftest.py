"""The containers suite: runs only when asked (`make test-containers`), never in `make test`.

Needs podman, runc and debootstrap, and /etc/containers/containers.conf set up as
docs/containers.md says; the stand-in base images are built once and kept.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from tests.containers.stack import Stack, build_images

pytestmark = pytest.mark.containers


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"the containers suite needs {', '.join(missing)} (docs/containers.md)")
    stack = Stack()
    stack.remove_everything()
    build_images(stack.timings)
    started = time.monotonic()
    stack.compose("up", "-d", timeout=300)
    stack.timings["up -d"] = time.monotonic() - started
    (url,) = stack.api_urls()
    stack.wait_ready(url)
    stack.timings["up to server ready"] = time.monotonic() - started
    deadline = time.monotonic() + 120
    while stack.workers_online(url) < 1:
        assert time.monotonic() < deadline, "the compose worker never came online"
        time.sleep(0.25)
    stack.timings["up to worker online"] = time.monotonic() - started
    try:
        yield stack
    finally:
        stack.remove_everything()
        print("\ncontainers suite timings (s):", {k: round(v, 1) for k, v in stack.timings.items()})
