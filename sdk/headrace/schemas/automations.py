"""Automations: a trigger over events, and the actions that run when it fires (Prefect's shape).

An event trigger watches events whose name is in `expect` (trailing `*` wildcards) about a
resource whose labels match `match`. Reactive: it fires once `threshold` such events happened
within `within` seconds. Proactive: it fires when fewer than `threshold` of them happened within
`within` seconds after an `after` event (e.g. a run started and did not complete in an hour).
`for_each` labels split the counting by resource (one count per flow run...).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag, model_validator

from headrace.schemas.common import Model, Parameters, ReadModel, ResourceName, StateCreate

MAX_PATTERNS = 50
MAX_ACTIONS = 20
MAX_TEMPLATE = 20_000
MAX_WITHIN_SECONDS = 30 * 24 * 3600
MAX_WEBHOOK_TIMEOUT = 60.0
MAX_WEBHOOK_RETRIES = 10

Pattern = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Template = Annotated[str, StringConstraints(max_length=MAX_TEMPLATE)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^https?://\S+$")]
# A label's wanted value(s): exact, `prefix*`, `!not-this`; a list matches any of them.
LabelValue = Pattern | Annotated[list[Pattern], Field(min_length=1, max_length=MAX_PATTERNS)]
LabelMatch = Annotated[dict[Pattern, LabelValue], Field(max_length=MAX_PATTERNS)]


class EventTrigger(Model):
    type: Literal["event"] = "event"
    match: LabelMatch = Field(
        default_factory=dict, description="Labels the event's resource must have (wildcards)."
    )
    match_related: LabelMatch = Field(
        default_factory=dict, description="Labels one of the event's related resources must have."
    )
    after: list[Pattern] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="Event names that start the count (proactive: the clock).",
    )
    expect: list[Pattern] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="Event names that are counted; empty: any event.",
    )
    for_each: list[Pattern] = Field(
        default_factory=list,
        max_length=10,
        description="Labels of the resource that split the count (one per value).",
    )
    posture: Literal["Reactive", "Proactive"] = "Reactive"
    threshold: int = Field(default=1, ge=1, le=100_000)
    within: float = Field(default=0, ge=0, le=MAX_WITHIN_SECONDS)

    @model_validator(mode="after")
    def _proactive_needs_time(self) -> EventTrigger:
        if self.posture == "Proactive" and self.within <= 0:
            raise ValueError("within: a Proactive trigger needs a time window (seconds > 0)")
        return self


class DeploymentTrigger(EventTrigger):
    """A trigger given with a deployment (`flow.deploy(triggers=[...])`, `headrace deploy
    --trigger`): an automation that runs this deployment, replaced on each deploy and deleted
    with the deployment."""

    name: ResourceName | None = Field(
        default=None, description="The automation's name (default: `FLOW/NAME trigger N`)."
    )
    enabled: bool = True
    parameters: Parameters = Field(
        default_factory=dict, description="The run's parameters; strings are templates."
    )


MAX_DEPLOYMENT_TRIGGERS = 20


class _CompositeTrigger(Model):
    triggers: list[EventTrigger] = Field(min_length=1, max_length=10)
    within: float = Field(default=0, ge=0, le=MAX_WITHIN_SECONDS)


class CompoundTrigger(_CompositeTrigger):
    """Fires when all (or any) of its event triggers fired, within `within` seconds of each
    other (0: however far apart)."""

    type: Literal["compound"] = "compound"
    require: Literal["all", "any"] = "all"


class SequenceTrigger(_CompositeTrigger):
    """Fires when each of its event triggers fired, in the order of the list, within `within`
    seconds (0: however far apart). As in Prefect, each trigger's latest firing counts."""

    type: Literal["sequence"] = "sequence"


def _trigger_type(value: Any) -> str:
    """`type` picks the kind; a trigger without one is an event trigger."""
    if isinstance(value, dict):
        return str(value.get("type", "event"))
    return str(getattr(value, "type", "event"))


Trigger = Annotated[
    Annotated[EventTrigger, Tag("event")]
    | Annotated[CompoundTrigger, Tag("compound")]
    | Annotated[SequenceTrigger, Tag("sequence")],
    Discriminator(_trigger_type),
]

# Which deployment: `flow/name` or its id; None: the one the triggering event is about.
DeploymentRef = Annotated[str, StringConstraints(min_length=1, max_length=400)]


class RunDeployment(Model):
    type: Literal["run-deployment"]
    deployment: DeploymentRef | None = None
    parameters: Parameters = Field(
        default_factory=dict, description="Strings are jinja2 templates over the event."
    )


class PauseDeployment(Model):
    type: Literal["pause-deployment"]
    deployment: DeploymentRef | None = None


class ResumeDeployment(Model):
    type: Literal["resume-deployment"]
    deployment: DeploymentRef | None = None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PauseWorkPool(Model):
    """Pauses a work pool: its workers claim nothing until it is resumed."""

    type: Literal["pause-work-pool"]
    work_pool: Name | None = Field(
        default=None, description="Its name; left out: the pool the event is related to."
    )


class ResumeWorkPool(Model):
    type: Literal["resume-work-pool"]
    work_pool: Name | None = None


class PauseWorkQueue(Model):
    type: Literal["pause-work-queue"]
    work_pool: Name
    work_queue: Name


class ResumeWorkQueue(Model):
    type: Literal["resume-work-queue"]
    work_pool: Name
    work_queue: Name


class PauseAutomation(Model):
    type: Literal["pause-automation"]
    automation: Name | None = Field(
        default=None, description="Its name or id; left out: this automation."
    )


class ResumeAutomation(Model):
    type: Literal["resume-automation"]
    automation: Name | None = None


class CancelFlowRun(Model):
    """Cancels a flow run: the one named, or the one the triggering event is about."""

    type: Literal["cancel-flow-run"]
    flow_run_id: uuid.UUID | None = None


class ChangeFlowRunState(Model):
    """Proposes a state for a flow run (the one named, or the event's), as a client would; a
    transition the rules refuse fails the action with the reason."""

    type: Literal["change-flow-run-state"]
    flow_run_id: uuid.UUID | None = None
    state: StateCreate


class SuspendFlowRun(Model):
    """Suspends a Paused flow run of a deployment (the one named, or the event's): its process
    stops waiting and exits; once resumed, a worker runs the flow again as its next attempt."""

    type: Literal["suspend-flow-run"]
    flow_run_id: uuid.UUID | None = None


class ResumeFlowRun(Model):
    """Resumes a Paused or Suspended flow run (the one named, or the event's) with `run_input`,
    checked like the API's resume: a run waiting for input is not resumed without it."""

    type: Literal["resume-flow-run"]
    flow_run_id: uuid.UUID | None = None
    run_input: Parameters | None = Field(
        default=None, description="The input the pause waits for; strings are templates."
    )


class CallWebhook(Model):
    type: Literal["call-webhook"]
    url: Url
    body: Template = Field(default="{{ event | tojson }}", description="A jinja2 template.")
    headers: Annotated[dict[Pattern, Template], Field(max_length=50)] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_WEBHOOK_TIMEOUT)
    retries: int = Field(default=2, ge=0, le=MAX_WEBHOOK_RETRIES)
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=60)


class SendNotification(Model):
    """A webhook whose body is Slack's `{"text": ...}`."""

    type: Literal["send-notification"]
    url: Url
    message: Template = Field(description="A jinja2 template: the notification's text.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_WEBHOOK_TIMEOUT)
    retries: int = Field(default=2, ge=0, le=MAX_WEBHOOK_RETRIES)
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=60)


Action = Annotated[
    RunDeployment
    | PauseDeployment
    | ResumeDeployment
    | PauseWorkPool
    | ResumeWorkPool
    | PauseWorkQueue
    | ResumeWorkQueue
    | PauseAutomation
    | ResumeAutomation
    | CancelFlowRun
    | ChangeFlowRunState
    | SuspendFlowRun
    | ResumeFlowRun
    | CallWebhook
    | SendNotification,
    Field(discriminator="type"),
]


class AutomationCreate(Model):
    name: ResourceName
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    enabled: bool = True
    trigger: Trigger
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)


class AutomationUpdate(Model):
    """PATCH: what is given changes."""

    name: ResourceName | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    enabled: bool | None = None
    trigger: Trigger | None = None
    actions: list[Action] | None = Field(default=None, min_length=1, max_length=MAX_ACTIONS)


class Automation(ReadModel):
    id: uuid.UUID
    name: str
    deployment_id: uuid.UUID | None = None  # made by deploying it with `triggers=`
    description: str = ""
    enabled: bool
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]
    created: datetime
    updated: datetime


class AutomationQuery(ReadModel):
    name_contains: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=200, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ActionResult(ReadModel):
    index: int
    type: str
    status: str  # pending, running, executed, failed
    reason: str | None = None
    attempts: int = 0
    updated: datetime


class Firing(ReadModel):
    id: uuid.UUID
    automation_id: uuid.UUID
    fired: datetime
    event: dict[str, Any] | None = None  # the triggering event (None: a proactive window)
    actions: list[ActionResult] = Field(default_factory=list)


class FiringQuery(ReadModel):
    limit: int = Field(default=20, ge=1, le=200)
