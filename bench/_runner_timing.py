"""Timing one flow per task runner, shared by `bench/task_runners.py` (headrace) and
`bench/_runner_workload_prefect.py` (Prefect 3): it imports neither, so both can use it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

SLOTS = 2
TASK_SECONDS = 0.01


def time_runners(
    flow: Callable[..., Any],
    runners: dict[str, Callable[[], Any]],
    names: list[str],
    body: Callable[[int], float],
    n: int,
    label: str = "",
) -> None:
    """Run `body(n)` as a flow on each named runner; print wall, body and overhead per task."""
    ideal = n * TASK_SECONDS / SLOTS
    for name in names:
        timed = flow(name=f"bench-{name}", task_runner=runners[name]())(body)
        started = time.perf_counter()
        in_body = timed(n)
        wall = time.perf_counter() - started
        overhead = (in_body - ideal) * SLOTS / n * 1e3
        print(
            f"{label + name:>17}: wall {wall:6.2f} s, body {in_body:6.2f} s, "
            f"overhead {overhead:6.2f} ms per task (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
