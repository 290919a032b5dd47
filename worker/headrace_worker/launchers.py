"""How the process runner starts a run's flow process: `spawn` (a new interpreter per run) or
`fork` (a child of the worker's ready interpreter, see `warm_launcher`). Both give a `FlowProcess`:
a pid that leads its own process group, its stdout and stderr, and its exit code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Protocol

from headrace.engine.outcome_report import OUTCOME_FD_ENV
from headrace_worker.parent_death import die_with_this_process

SPAWN = "spawn"
FORK = "fork"
START_METHODS = (FORK, SPAWN)


def default_start_method() -> str:
    """Fork where it is safe and the parent-death signal exists (Linux); spawn elsewhere."""
    return FORK if sys.platform.startswith("linux") else SPAWN


class FlowProcess(Protocol):
    @property
    def pid(self) -> int:
        """Also the id of its process group."""
        ...

    @property
    def stdout(self) -> IO[bytes]: ...

    @property
    def stderr(self) -> IO[bytes]: ...

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code (negative: killed by that signal), or None on timeout; raises
        `ProcessLost` when its exit code can no longer be known."""
        ...


class ProcessLost(Exception):
    """The flow process's exit code cannot be known (the ready interpreter that started it
    died, taking it along)."""


class Launcher(Protocol):
    def launch(
        self, run_id: str, folder: Path, env: dict[str, str], outcome_fd: int
    ) -> FlowProcess:
        """Start `python -m headrace.engine <run_id>` in `folder` with exactly `env` (and the
        write end `outcome_fd` as its HEADRACE_OUTCOME_FD, see headrace.engine.outcome_report;
        the caller closes its own copy); OSError when it cannot start."""
        ...

    def close(self) -> None: ...


class SpawnedProcess:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self.stdout: IO[bytes] = process.stdout
        self.stderr: IO[bytes] = process.stderr

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class SpawnLauncher:
    """A new interpreter per run: every run pays the interpreter's start and headrace's
    imports (a few hundred ms of CPU), but nothing is shared with the worker at all."""

    def launch(
        self, run_id: str, folder: Path, env: dict[str, str], outcome_fd: int
    ) -> FlowProcess:
        return SpawnedProcess(
            subprocess.Popen(
                [sys.executable, "-m", "headrace.engine", run_id],
                cwd=folder,
                env={**env, OUTCOME_FD_ENV: str(outcome_fd)},
                pass_fds=(outcome_fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Its own process group, so cancelling reaches every process the flow starts.
                start_new_session=True,
                # Spawned by the run's supervisor thread, which lives until the child has
                # exited: only the worker's death fires it.
                preexec_fn=die_with_this_process(),
            )
        )

    def close(self) -> None:
        pass
