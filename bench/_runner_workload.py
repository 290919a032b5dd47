"""The task `bench/task_runners.py` sends to every runner: a module the workers import by name."""

from __future__ import annotations

import time

from headrace import task


@task
def ten_ms(x: int) -> int:
    time.sleep(0.01)
    return x
