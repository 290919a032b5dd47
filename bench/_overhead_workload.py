"""The workload of bench/prefect_compare.py, run under headrace or Prefect (argv[1]).

Prints one JSON line: microseconds per task above a plain call, in the flow body and for the
whole flow run (which, in both systems, includes getting the task runs to the API).
"""

from __future__ import annotations

import importlib
import json
import sys
import time

system, n = sys.argv[1], int(sys.argv[2])
api = importlib.import_module(system)
flow, task = api.flow, api.task


def trivial(x: int) -> int:
    return x + 1


tracked = task(trivial)


@flow
def sequential(count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        tracked(i)
    return time.perf_counter() - started


started = time.perf_counter()
for i in range(n):
    trivial(i)
plain = time.perf_counter() - started
sequential(10)  # warm-up: first-run costs (flow registration, connections) are not per task
started = time.perf_counter()
body = sequential(n)
whole = time.perf_counter() - started
print(json.dumps({"body_us": (body - plain) / n * 1e6, "whole_us": (whole - plain) / n * 1e6}))
