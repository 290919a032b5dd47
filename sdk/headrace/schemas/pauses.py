"""Pausing a flow run from its code and resuming it (`POST /api/flow_runs/{id}/pause|resume`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from headrace.schemas.common import Model, Parameters, ReadModel
from headrace.schemas.flow_runs import FlowRun
from headrace.schemas.run_inputs import Keyset

# A pause lasts at most a week: a run paused longer is a run forgotten.
MAX_PAUSE_SECONDS = 7 * 24 * 3600
MAX_PAUSE_KEY = 200
MAX_DESCRIPTION = 10_000


class PauseRequest(Model):
    """The flow's own process pauses it (Paused), or suspends it (Suspended: the process exits
    and the run is scheduled again once resumed)."""

    pause_key: str = Field(min_length=1, max_length=MAX_PAUSE_KEY)
    timeout_seconds: float = Field(gt=0, le=MAX_PAUSE_SECONDS)
    reschedule: bool = False
    # The JSON schema of the RunInput model the flow waits for; the resume is checked against it.
    run_input_schema: Parameters | None = None
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    # The worker whose process asks (it keeps holding a Paused run; a Suspended one is freed).
    worker_id: uuid.UUID | None = None


class SuspendRequest(Model):
    """Another run or program suspends a Running run of a deployment (`suspend_flow_run` with
    `flow_run_id`): Suspended at once; its worker stops its process."""

    # Default: a new random key (the run's own pauses count "1", "2"...).
    pause_key: str | None = Field(default=None, min_length=1, max_length=MAX_PAUSE_KEY)
    timeout_seconds: float = Field(default=3600, gt=0, le=MAX_PAUSE_SECONDS)
    run_input_schema: Parameters | None = None
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class PauseOutcome(StrEnum):
    PAUSED = "paused"  # the run is Paused (or Suspended) now
    RESUMED = "resumed"  # this pause key was resumed before (a suspended run's next attempt)


class PauseResponse(ReadModel):
    outcome: PauseOutcome
    run: FlowRun
    # The input given when this pause was resumed (outcome "resumed").
    run_input: dict[str, Any] | None = None


class ResumeRequest(Model):
    """`run_input`: the values of the RunInput model the paused flow waits for."""

    run_input: Parameters | None = None


class PauseDetails(ReadModel):
    """What a Paused state records in its `data` (the dashboard builds its form from it)."""

    pause_key: str
    timeout_seconds: float
    pause_expiration_time: datetime
    reschedule: bool = False
    run_input_schema: dict[str, Any] | None = None
    # The schema's fields in the model's order (JSONB does not keep the order of keys).
    input_order: list[str] = Field(default_factory=list)
    description: str | None = None
    # The run's input keys of this pause (schemas/run_inputs.py), when it waits for input.
    run_input_keyset: Keyset | None = None
    # Suspended from outside the run (not by its own code): its worker stops its process.
    by_request: bool = False


# Why a flow process suspended from outside stops: the answer of its lease check (409).
SUSPENDED_BY_REQUEST = "the run was suspended by request"
