"""The containers suite: runs only when asked (`make test-containers`), never in `make test`.

Needs podman, runc and debootstrap, and /etc/containers/containers.conf set up as
docs/containers.md says; the stand-in base images are built once and kept.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from tests.containers.stack import Stack, build_images, wait_for

pytestmark = pytest.mark.containers
# What docs/benchmarks.md quotes (seconds, and the image's size): printed at the end of the run.
TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("containers suite timings")
        for step, value in TIMINGS.items():
            terminalreporter.write_line(f"{step}: {value:.1f}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"the containers suite needs {', '.join(missing)} (docs/containers.md)")
    stack = Stack()
    stack.remove_everything()
    try:
        build_images(stack.timings)
        start(stack)
        yield stack
    finally:
        stack.remove_everything()
        TIMINGS.update(stack.timings)


def start(stack: Stack) -> None:
    """`up -d`, then wait for the server to be ready and the worker to be online."""
    started = time.monotonic()
    stack.compose("up", "-d", timeout=300)
    stack.timings["up -d"] = time.monotonic() - started
    try:
        (url,) = stack.api_urls()
        stack.wait_ready(url)
        stack.timings["up to server ready"] = time.monotonic() - started
        wait_for(lambda: stack.workers_online(url) >= 1, 120, "the worker never came online")
        stack.timings["up to worker online"] = time.monotonic() - started
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None
