"""Global concurrency limits: acquire + release latency, and 100 contenders on a limit of 5.

    .venv/bin/python bench/global_concurrency.py [--iterations 300] [--contenders 100]

Starts its own server (embedded PostgreSQL, temporary home). (1) `with concurrency("solo"):`
uncontended, timed around the whole block: one acquire and one release through the API.
(2) `--contenders` threads, started 20 ms apart, each `with concurrency("shared")` (limit 5)
holding 50 ms; a sampler reads the limit's slot count from the API every 10 ms, and each
holder counts itself in and out, so both the server's view and the holders' own never pass 5.
The order of service is printed beside the order of arrival.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from _stack import bench_stack, summary

from headrace.concurrency.sync import concurrency
from headrace.settings import client_settings

LIMIT = 5
HOLD_SECONDS = 0.05
STAGGER_SECONDS = 0.02
SAMPLE_SECONDS = 0.01


def uncontended(iterations: int) -> list[float]:
    timings = []
    for index in range(iterations + 20):
        started = time.perf_counter()
        with concurrency("solo"):
            pass
        if index >= 20:  # warm-up: connections, plans
            timings.append(time.perf_counter() - started)
    return timings


def contended(stack_http: object, contenders: int) -> dict[str, object]:
    http = stack_http  # httpx.Client of the stack (its own connection, for the sampler)
    lock = threading.Lock()
    holding = {"now": 0, "max": 0}
    served: list[int] = []
    sampled: list[int] = []
    done = threading.Event()

    def contender(index: int) -> None:
        with concurrency("shared"):
            with lock:
                holding["now"] += 1
                holding["max"] = max(holding["max"], holding["now"])
                served.append(index)
            time.sleep(HOLD_SECONDS)
            with lock:
                holding["now"] -= 1

    def sampler() -> None:
        while not done.is_set():
            state = http.get("/global_concurrency_limits/shared").json()  # type: ignore[attr-defined]
            sampled.append(int(state["active_slots"]))
            time.sleep(SAMPLE_SECONDS)

    watcher = threading.Thread(target=sampler)
    watcher.start()
    started = time.perf_counter()
    threads = []
    for index in range(contenders):
        thread = threading.Thread(target=contender, args=(index,))
        thread.start()
        threads.append(thread)
        time.sleep(STAGGER_SECONDS)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    out_of_order = sum(
        1 for i in range(len(served)) for j in range(i + 1, len(served)) if served[i] > served[j]
    )
    return {
        "contenders": contenders,
        "limit": LIMIT,
        "seconds": round(elapsed, 2),
        "max_holders_seen_by_holders": holding["max"],
        "max_slots_sampled_from_api": max(sampled),
        "samples": len(sampled),
        "pairs_served_out_of_arrival_order": out_of_order,
        "order_of_service": served,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--contenders", type=int, default=100)
    args = parser.parse_args()
    with bench_stack() as stack:
        os.environ["HEADRACE_API_URL"] = stack.url
        client_settings.cache_clear()
        for name, limit in (("solo", 1), ("shared", LIMIT)):
            stack.http.post(
                "/global_concurrency_limits", json={"name": name, "limit": limit}
            ).raise_for_status()
        time.sleep(5)  # the server's start-up work (migrations check, first loop passes) is done
        timings = uncontended(args.iterations)
        result = {
            "acquire_release_uncontended": {"iterations": args.iterations, **summary(timings)},
            "contention": contended(stack.http, args.contenders),
            "load_average": os.getloadavg(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
