"""The deployment a worker's run loads its code from, read while the run itself is read.

The worker knows the run's deployment from its claim and hands its id to the flow process
(`HEADRACE_DEPLOYMENT_ID`), so the process asks for the run and for its deployment at once: one
round trip to the API less before the flow's first line. The run's own `deployment_id` still
decides: a process started without the variable, or with another id, reads the deployment the
run names, after the run.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headrace.ports import RunStates
    from headrace.schemas.deployment_code import DeploymentCode

DEPLOYMENT_ID_ENV = "HEADRACE_DEPLOYMENT_ID"


class DeploymentRead:
    """A read of the deployment the worker named, begun now in a thread of its own."""

    def __init__(self, runs: RunStates) -> None:
        self._runs = runs
        self._id = _named_deployment()
        self._code: DeploymentCode | None = None
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        if self._id is not None:
            self._thread = threading.Thread(
                target=self._read, args=(self._id,), name="headrace-deployment", daemon=True
            )
            self._thread.start()

    def of(self, deployment_id: uuid.UUID) -> DeploymentCode:
        """The deployment `deployment_id` (the run's): the one read ahead if it is that one."""
        if self._thread is None or self._id != deployment_id:
            return self._runs.read_deployment(deployment_id)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._code is not None, "read or failed"
        return self._code

    def _read(self, deployment_id: uuid.UUID) -> None:
        try:
            self._code = self._runs.read_deployment(deployment_id)
        except Exception as error:  # raised in the main thread, as a read there would be
            self._error = error


def _named_deployment() -> uuid.UUID | None:
    try:
        return uuid.UUID(os.environ.get(DEPLOYMENT_ID_ENV, ""))
    except ValueError:
        return None  # unset or not an id: read after the run, as before
