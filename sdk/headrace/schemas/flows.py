"""Flows: a named piece of user code; created on first use, looked up by name."""

from __future__ import annotations

import uuid
from datetime import datetime

from headrace.schemas.common import Model, ReadModel, ResourceName


class FlowCreate(Model):
    name: ResourceName


class Flow(ReadModel):
    id: uuid.UUID
    name: str
    created: datetime
