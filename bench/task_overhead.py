"""What a tracked task costs: a flow calling a trivial task 1,000 times, sequentially and with
`submit`, against a running headrace server (HEADRACE_API_URL), minus a plain function call.

    HEADRACE_API_URL=http://127.0.0.1:4200/api python bench/task_overhead.py [--n 1000]

Prints microseconds per task above a plain call, two ways: inside the flow body (what the
user's code waits for: the task engine, states, handing the states to the reporter thread) and
for the whole flow run, which ends by waiting until every task run has been stored by the API
(the reporter's final flush), so it includes the server's ingestion of the batches.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from headrace import flow, task


def trivial(x: int) -> int:
    return x + 1


tracked = task(trivial)


@flow
def sequential(n: int) -> float:
    """Returns the seconds spent in the body (the flow run's own start and end excluded)."""
    started = time.perf_counter()
    for i in range(n):
        tracked(i)
    return time.perf_counter() - started


@flow
def submitted(n: int) -> float:
    started = time.perf_counter()
    for future in [tracked.submit(i) for i in range(n)]:
        future.result()
    return time.perf_counter() - started


def best_of(repeats: int, fn: Callable[[int], float], n: int) -> tuple[float, float]:
    """(body seconds, whole-call seconds) of the fastest of `repeats` runs."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        body = fn(n)
        runs.append((body, time.perf_counter() - started))
    return min(runs, key=lambda r: r[1])


def plain(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        trivial(i)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="µs per tracked task above a plain call")
    parser.add_argument("--n", type=int, default=1000, help="task calls per flow run")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement")
    args = parser.parse_args()
    n = args.n

    sequential(10)  # warm-up: connection, imports, flow created
    baseline, _ = best_of(args.repeats, plain, n)
    _, empty = best_of(args.repeats, sequential, 0)  # a flow run's own cost, without tasks
    for label, fn in (("sequential calls", sequential), ("submit + result", submitted)):
        body, whole = best_of(args.repeats, fn, n)
        in_body = (body - baseline) / n * 1e6
        in_total = (whole - empty - baseline) / n * 1e6
        print(
            f"{label:>16}: {in_body:6.1f} us per task in the flow body, "
            f"{in_total:6.1f} us per task including the API storing them ({n} tasks)"
        )
    print(f"flow run without tasks: {empty * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
