"""`python -m headrace.engine <flow_run_id>`: run an existing flow run (started by a worker).

Exit status: 0 when the run completed (or was suspended: it runs again once resumed), 1 when it
failed (or crashed, or was cancelled), 2 when it could not start (the API refused the run to
start, the entrypoint cannot be loaded, ...), 3 when its worker lost the run while it ran (the
lease expired: another attempt owns the run).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from types import FrameType
from typing import Any

from headrace.engine.deployment_read import DeploymentRead
from headrace.engine.flow_engine import ExistingRun, Terminated, arun_flow, run_flow
from headrace.engine.lease_watch import EXIT_LEASE_LOST, lease_lost
from headrace.engine.outcome_report import OutcomeReport
from headrace.entrypoints import load_entrypoint
from headrace.errors import HeadraceError
from headrace.exceptions import Pause
from headrace.flows import require_flow
from headrace.ports.backend import get_backend
from headrace.startup_trace import mark

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_NOT_STARTED = 2


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m headrace.engine FLOW_RUN_ID", file=sys.stderr)
        return EXIT_NOT_STARTED
    try:
        flow_run_id = uuid.UUID(args[0])
    except ValueError:
        print(f"not a flow run id: {args[0]!r}", file=sys.stderr)
        return EXIT_NOT_STARTED
    return run_existing(flow_run_id, worker_id=os.environ.get("HEADRACE_WORKER_ID") or None)


def run_existing(flow_run_id: uuid.UUID, worker_id: str | None) -> int:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    mark("engine", flow_run_id)
    report = OutcomeReport.from_environment()
    try:
        backend = get_backend(require_api=True)
        mark("backend", flow_run_id)
        deployment_read = DeploymentRead(backend.runs)
        run = backend.runs.read(flow_run_id)
        mark("run-read", flow_run_id)
        if run.deployment_id is None:
            raise HeadraceError(f"flow run {flow_run_id} has no deployment to load its code from")
        deployment = deployment_read.of(run.deployment_id)
        mark("deployment-read", flow_run_id)
        # Anything but a @flow is refused before it is called (a deployment stored before the
        # API checked entrypoints may name `os:system`).
        flow = require_flow(load_entrypoint(deployment.entrypoint), deployment.entrypoint)
        parameters: dict[str, Any] = {**deployment.parameters, **run.parameters}
        mark("entrypoint-loaded", flow_run_id)
    except HeadraceError as exc:
        print(f"headrace: cannot start flow run {flow_run_id}: {exc}", file=sys.stderr)
        return EXIT_NOT_STARTED
    try:
        state = _run(flow, parameters, ExistingRun(run, worker_id, report.final_state_recorded))
    except HeadraceError as exc:
        # Refused before anything ran (e.g. the run is being cancelled, or another worker has it).
        print(f"headrace: flow run {flow_run_id} not started: {exc}", file=sys.stderr)
        return EXIT_NOT_STARTED
    except Terminated:
        return EXIT_LEASE_LOST if lease_lost() else EXIT_FAILED
    except Pause:
        return EXIT_COMPLETED
    return EXIT_COMPLETED if state.is_completed() else EXIT_FAILED


def _run(flow: Any, parameters: dict[str, Any], existing: ExistingRun) -> Any:
    # The run read above is handed on: the engine does not read it again.
    if flow.isasync:
        return asyncio.run(arun_flow(flow, parameters, return_type="state", existing=existing))
    return run_flow(flow, parameters, return_type="state", existing=existing)


if __name__ == "__main__":
    sys.exit(main())
