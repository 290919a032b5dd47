"""Where a worker's run spends its start: `HEADRACE_STARTUP_TRACE=<file>` makes each step (the
claim answered, the fork asked for and done, the engine's reads, Running, the flow called) append
`<time.time()> <pid> <step> <run id>` to that file. Worker, ready interpreter and flow process
inherit the variable, so one file holds a run's whole start on one clock.

Off (the variable unset) it costs one environment lookup per step. Each line is one `write` to
a file opened for appending, so lines from several processes do not interleave.
"""

from __future__ import annotations

import os
import time

TRACE_ENV = "HEADRACE_STARTUP_TRACE"


def mark(step: str, run_id: object = "") -> None:
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    line = f"{time.time():.6f} {os.getpid()} {step} {run_id}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
