"""The "docker" pool type: each claimed run in its own container (Docker Engine API).

The run's code folder (a bundle or git checkout made on the worker's host, or the deployment's
path) is copied into the container as its working directory, and the container runs
`python -m headrace.engine RUN_ID` from the image, which must hold headrace (the project's image
does). Supervision is the process type's: the worker starts `headrace_worker.docker_container`,
which owns the container.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from headrace._state_types import TERMINAL_TYPES
from headrace.client import flow_runs
from headrace.errors import NotFound
from headrace.logging import OUTPUT_FORWARDED_ENV
from headrace.schemas.work_pools import ClaimedRun
from headrace_worker.docker_container import (
    CODE_PATH,
    LABEL_POOL,
    LABEL_RUN,
    LABEL_WORKER,
    labelled_containers,
    remove_run_containers,
)
from headrace_worker.launchers import FlowProcess, SpawnedProcess, SpawnLauncher
from headrace_worker.parent_death import die_with_this_process
from headrace_worker.pool_types import RunContext, RunHandle
from headrace_worker.process_runner import ProcessPoolType, ProcessRun

DOCKER = "docker"
_logger = logging.getLogger("headrace.worker")
ORPHAN_SWEEP_SECONDS = 15.0

JOB_VARIABLES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image"],
    "properties": {
        "image": {"type": "string", "minLength": 1, "description": "Image holding headrace."},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "volumes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "host:container[:ro] mounts",
        },
        "network": {"type": "string", "description": "Network mode, e.g. host or a network."},
        "image_pull_policy": {"enum": ["always", "if-not-present", "never"]},
        "auto_remove": {"type": "boolean"},
        "mem_limit": {"type": "string", "description": "e.g. 512m"},
        "cpu_limit": {"type": "number", "exclusiveMinimum": 0},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


class DockerPoolType(ProcessPoolType):
    name = DOCKER
    job_variables_schema: ClassVar[dict[str, Any]] = JOB_VARIABLES_SCHEMA

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        threading.Thread(target=self._sweep_orphans, name="headrace-orphans", daemon=True).start()

    def _sweep_orphans(self) -> None:
        """Remove, now and then every ORPHAN_SWEEP_SECONDS, the containers whose run is over or
        held by another worker than the one that started them (that one died with them)."""
        while True:
            try:
                for name in remove_orphans(self.context):
                    _logger.warning("removed the orphaned container %s", name)
            except Exception as error:  # the engine or the API away: the next sweep retries
                _logger.warning("cannot look for orphaned containers: %s", error)
            time.sleep(ORPHAN_SWEEP_SECONDS)

    def prepare(self) -> None:
        """Nothing to warm up: a container's process is the image's, not a fork of ours."""

    def start(self, run: ClaimedRun, on_exit: Callable[[RunHandle], None]) -> RunHandle:
        # The launcher is not used: DockerRun starts `docker_container` itself (see _spawn).
        handle = DockerRun(run, self.context, on_exit, SpawnLauncher())
        handle.start()
        return handle


def container_spec(run: ClaimedRun, context: RunContext, folder: str) -> dict[str, Any]:
    """What `docker_container` creates for this run, from the deployment's job variables."""
    variables = dict(run.job_variables)
    env = {
        **dict(variables.get("env") or {}),
        "HEADRACE_API_URL": context.client.api_url_setting(),
        "HEADRACE_WORKER_ID": str(context.worker_id),
        "HEADRACE_FLOW_RUN_ID": str(run.flow_run.id),
        "PYTHONUNBUFFERED": "1",
        OUTPUT_FORWARDED_ENV: "1",
    }
    if context.api_key:
        env["HEADRACE_API_KEY"] = context.api_key
    cpu = variables.get("cpu_limit")
    return {
        "image": variables["image"],
        "command": ["python", "-m", "headrace.engine", str(run.flow_run.id)],
        "env": env,
        "code_folder": folder,
        "volumes": list(variables.get("volumes") or []),
        "working_dir": CODE_PATH,
        "network": variables.get("network"),
        "pull_policy": variables.get("image_pull_policy", "if-not-present"),
        "auto_remove": variables.get("auto_remove", True),
        "mem_limit": variables.get("mem_limit"),
        "nano_cpus": int(cpu * 1e9) if cpu else None,
        "labels": {
            **dict(variables.get("labels") or {}),
            LABEL_RUN: str(run.flow_run.id),
            LABEL_POOL: run.flow_run.work_pool_name or "",
            LABEL_WORKER: str(context.worker_id),
        },
        # Inside the worker's own grace: the worker kills this program when its grace ends.
        "stop_grace_seconds": max(1, int(context.settings.cancel_grace_seconds) - 2),
    }


def remove_orphans(context: RunContext) -> list[str]:
    """The containers removed: those whose run is finished, or moved to another worker."""
    removed = []
    for run_id, worker_id in labelled_containers():
        try:
            flow_run = flow_runs.read(context.client, run_id)
        except NotFound:
            continue  # a run of another server: not ours to judge
        if flow_run.state_type in TERMINAL_TYPES or str(flow_run.worker_id) != worker_id:
            removed += remove_run_containers(run_id)
    return removed


class DockerRun(ProcessRun):
    """A run whose process is `docker_container`, the owner of the run's container."""

    def cancel(self, reason: str) -> None:
        super().cancel(reason)
        threading.Thread(target=self._remove_when_done, daemon=True).start()

    def abandon(self) -> None:
        super().abandon()
        self._remove_containers()

    def _remove_when_done(self) -> None:
        # Stopped by `docker_container`, or left behind when the worker had to SIGKILL it.
        self.wait(self.context.settings.cancel_grace_seconds + 30)
        self._remove_containers()

    def _remove_containers(self) -> None:
        try:
            remove_run_containers(str(self.run_id))
        except Exception as error:  # the engine unreachable: the run's outcome stands anyway
            _logger.warning("run %s: cannot remove its container: %s", self.run_id, error)

    def _spawn(self) -> FlowProcess:
        spec = container_spec(self.run, self.context, str(self._folder))
        process = subprocess.Popen(
            [sys.executable, "-m", "headrace_worker.docker_container", json.dumps(spec)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_this_process(),
        )
        return SpawnedProcess(process)
