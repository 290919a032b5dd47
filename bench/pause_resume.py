"""A paused run resumed from the CLI: from `headrace flow-run resume ID` starting to (a) the run
Running again (its RUNNING state's timestamp on the server), (b) the command's exit, (c) the
flow's next line running in its paused process.

    .venv/bin/python bench/pause_resume.py [--pauses 30]

Starts its own server (embedded PostgreSQL, temporary home). One script runs a flow that pauses
`--pauses` times (a new pause key each time) and writes `time.time()` right after each resume.
Each resume is the real CLI as a user types it (a new Python process: its start-up counts).
Same host, so the same clock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from _stack import HEADRACE, bench_stack, out_folder, summary

FLOW = """
import time
from pathlib import Path

from headrace import flow
from headrace.flow_runs import pause_flow_run

OUT = Path(__file__).resolve().parent.parent / "out"


@flow
def touch() -> None:
    pass


@flow(name="pausing")
def pausing(pauses: int) -> None:
    for index in range(pauses):
        pause_flow_run(timeout=600)
        with open(OUT / "resumed.txt", "a") as file:
            file.write(repr(time.time()) + "\\n")
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    total = args.warmup + args.pauses
    to_running: list[float] = []
    to_cli_exit: list[float] = []
    to_flow_line: list[float] = []
    with bench_stack(flow_file=FLOW) as stack:
        out = out_folder(stack)
        script = stack.folder / "flows" / "run_pausing.py"
        script.write_text(f"from bench import pausing\n\npausing({total})\n")
        flow = subprocess.Popen([sys.executable, str(script)], cwd=script.parent, env=stack.env)
        run_id = None
        for index in range(total):
            while True:
                items = stack.http.get("/flow_runs", params={"flow_name": "pausing"}).json()
                run = items["items"][0] if items["items"] else None
                if run is not None and run["state_type"] == "PAUSED":
                    break
                time.sleep(0.005)
            run_id = run["id"]
            started = time.time()
            subprocess.run(
                [*HEADRACE, "flow-run", "resume", run_id],
                env=stack.env,
                check=True,
                capture_output=True,
            )
            exited = time.time()
            while len(_lines(out / "resumed.txt")) <= index:
                time.sleep(0.002)
            line = float(_lines(out / "resumed.txt")[index])
            states = stack.http.get(f"/flow_runs/{run_id}").json()["states"]
            resumed = [s for s in states if s["type"] == "RUNNING" and s["message"] == "resumed"]
            running = datetime.fromisoformat(resumed[-1]["timestamp"]).timestamp()
            if index < args.warmup:
                continue
            to_running.append(running - started)
            to_cli_exit.append(exited - started)
            to_flow_line.append(line - started)
        flow.wait(60)
    print(
        json.dumps(
            {
                "pauses": args.pauses,
                "cli_start_to_running": summary(to_running),
                "cli_start_to_cli_exit": summary(to_cli_exit),
                "cli_start_to_flow_line": summary(to_flow_line),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
