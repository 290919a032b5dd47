"""Wall time of CLI commands: `headrace --help` and `headrace work-pool ls` (a read command).

    .venv/bin/python bench/cli_startup.py [--runs 20]

Starts its own server (embedded PostgreSQL, temporary home) so `work-pool ls` really reads, then
times each command `--runs` times, one after the other, and prints min / median / max in ms.
With `--pythonpath OTHER/sdk:OTHER/worker`, the commands of another checkout are timed with the
same interpreter and packages: that is how the "before" figures of docs/benchmarks.md were taken.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

from _stack import HEADRACE, bench_stack

COMMANDS = {"--help": ["--help"], "work-pool ls": ["work-pool", "ls"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pythonpath", help="PYTHONPATH of the timed commands only")
    args = parser.parse_args()
    results = {}
    with bench_stack() as stack:
        env = dict(stack.env)
        if args.pythonpath:
            env["PYTHONPATH"] = args.pythonpath
        for name, command in COMMANDS.items():
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                subprocess.run([*HEADRACE, *command], env=env, check=True, capture_output=True)
                times.append((time.perf_counter() - started) * 1000)
            results[name] = {
                "min_ms": round(min(times), 1),
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
