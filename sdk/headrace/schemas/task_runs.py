"""Task runs: reported by the SDK in batches, each with the states it went through."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from headrace._state_types import StateType
from headrace.schemas.common import Model, Name, ReadModel, ReportedTime, State, Tags

MAX_TASK_RUN_BATCH = 1000


class TaskRunStateReport(Model):
    """A state the client already decided: task runs are orchestrated client-side."""

    id: uuid.UUID
    type: StateType
    name: Name
    message: str | None = None
    timestamp: ReportedTime
    data: dict[str, Any] | None = None


class TaskInput(Model):
    """An edge from an upstream task run whose result fed this one."""

    id: uuid.UUID

    @model_validator(mode="before")
    @classmethod
    def _from_task_run_id(cls, value: Any) -> Any:
        # The SDK's task run records keep their inputs as ids (never JSON: that has no UUID).
        return {"id": value} if isinstance(value, uuid.UUID) else value


class TaskRunReport(Model):
    """The latest known shape of a task run, with states not yet sent."""

    id: uuid.UUID
    flow_run_id: uuid.UUID
    name: Name
    task_key: Name
    dynamic_key: str = Field(max_length=200)
    tags: Tags = Field(default_factory=list)
    run_count: int = Field(default=0, ge=0, le=1_000_000)
    task_inputs: dict[str, list[TaskInput]] = Field(default_factory=dict)
    cache_key: str | None = Field(default=None, max_length=1000)
    start_time: ReportedTime | None = None
    end_time: ReportedTime | None = None
    states: list[TaskRunStateReport] = Field(default_factory=list, max_length=1000)


class TaskRunBatch(Model):
    task_runs: list[TaskRunReport] = Field(max_length=MAX_TASK_RUN_BATCH)

    @model_validator(mode="after")
    def _one_report_per_task_run(self) -> TaskRunBatch:
        # One statement upserts the whole batch: Postgres cannot update a row twice in it. Two
        # ids with one identity are both kept (the store lets the earlier give its identity up).
        ids: set[uuid.UUID] = set()
        for index, report in enumerate(self.task_runs):
            if report.id in ids:
                raise ValueError(
                    f"task_runs.{index}: task run {report.id} is reported twice in this batch; "
                    "send one report per task run, its latest shape"
                )
            ids.add(report.id)
        return self


class TaskRun(ReadModel):
    id: uuid.UUID
    flow_run_id: uuid.UUID
    name: str
    task_key: str
    dynamic_key: str
    tags: list[str]
    run_count: int
    state_type: StateType
    state_name: str
    state_message: str | None = None
    state_timestamp: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    task_inputs: dict[str, list[dict[str, Any]]]
    cache_key: str | None = None
    created: datetime


class TaskRunDetail(TaskRun):
    states: list[State]


class BatchAccepted(ReadModel):
    accepted: int
