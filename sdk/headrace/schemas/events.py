"""Events in Prefect's shape: a name, the resource it is about, related resources, a payload.

A resource is a flat map of string labels; `headrace.resource.id` names it
(`headrace.flow-run.<id>`, `my.app.table.orders`...). A related resource also says its
`headrace.resource.role` (flow, deployment, work-pool, tag...).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from headrace.schemas.artifacts import check_json_value
from headrace.schemas.common import Model, ReadModel, ReportedTime

RESOURCE_ID = "headrace.resource.id"
RESOURCE_ROLE = "headrace.resource.role"
RESOURCE_NAME = "headrace.resource.name"

MAX_EVENT_BATCH = 2000
MAX_EVENT_NAME = 1024
MAX_LABELS = 50
MAX_LABEL_KEY = 200
MAX_LABEL_VALUE = 1000
MAX_RELATED = 50
MAX_PAYLOAD_BYTES = 64_000


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"a resource has at most {MAX_LABELS} labels, not {len(labels)}")
    for key, value in labels.items():
        if not key or len(key) > MAX_LABEL_KEY:
            raise ValueError(f"label names are 1 to {MAX_LABEL_KEY} characters: {key[:50]!r}")
        if len(value) > MAX_LABEL_VALUE:
            raise ValueError(f"label {key!r} is longer than {MAX_LABEL_VALUE} characters")
        if "\x00" in key or "\x00" in value:
            raise ValueError(f"label {key[:50]!r} cannot contain NUL characters")
    if not labels.get(RESOURCE_ID):
        raise ValueError(f"a resource needs a non-empty {RESOURCE_ID!r} label")
    return labels


def check_payload(value: dict[str, Any]) -> dict[str, Any]:
    check_json_value(value, "the payload", MAX_PAYLOAD_BYTES)
    return value


Labels = Annotated[dict[str, str], AfterValidator(check_labels)]
EventName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_EVENT_NAME, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


class EventCreate(Model):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event: EventName
    occurred: ReportedTime | None = None  # None: when the server receives it
    resource: Labels
    related: list[Labels] = Field(default_factory=list, max_length=MAX_RELATED)
    payload: Annotated[dict[str, Any], AfterValidator(check_payload)] = Field(default_factory=dict)


class EventBatch(Model):
    events: list[EventCreate] = Field(max_length=MAX_EVENT_BATCH)


class EventsAccepted(ReadModel):
    accepted: int  # stored now; an event whose id was already stored is not stored twice


class Event(ReadModel):
    id: uuid.UUID
    event: str
    occurred: datetime
    resource: dict[str, str]
    related: list[dict[str, str]] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    received: datetime | None = None
    seq: int | None = None  # arrival order on this server


FilterText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EVENT_NAME)]


class EventFilter(ReadModel):
    """Filters of `GET /api/event_feed` (and its count and stream); all given must match."""

    name: FilterText | None = Field(default=None, description="Event name prefix.")
    resource: FilterText | None = Field(default=None, description="Exact resource id.")
    label: FilterText | None = Field(
        default=None, description="`key=value`: the resource has this label."
    )
    related: FilterText | None = Field(default=None, description="A related resource has this id.")
    since: datetime | None = Field(default=None, description="Occurred at or after.")
    until: datetime | None = Field(default=None, description="Occurred before.")

    def label_pair(self) -> tuple[str, str] | None:
        if self.label is None:
            return None
        key, sep, value = self.label.partition("=")
        if not sep or not key:
            raise ValueError("query.label: give a label as key=value")
        return key, value


class EventQuery(EventFilter):
    limit: int = Field(default=100, ge=1, le=1000)
    page: str | None = Field(
        default=None, max_length=200, description="`next_page` of the previous page."
    )


class EventPage(ReadModel):
    items: list[Event]
    # Pass back as `page` for the next (older) events; None: this was the last page.
    next_page: str | None = None


class EventCount(ReadModel):
    event: str
    count: int


class EventStreamQuery(EventFilter):
    after: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="Only events stored after this `seq`."
    )
