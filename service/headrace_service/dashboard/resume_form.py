"""The Resume form of a paused run's page: its fields come from the JSON schema of the RunInput
model the flow waits for (stored in its Paused state's data), as the deployment's Run form's
come from the parameter schema. The API checks the input against that schema again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.engine import RowMapping

from headrace.schemas.pauses import PauseDetails
from headrace_service.dashboard.run_form import FormField, form_fields


@dataclass(frozen=True)
class ResumeForm:
    fields: list[FormField]
    description: str | None
    expires: datetime | None
    # Suspended: resuming schedules the run again for a worker.
    suspended: bool


def resume_form(run: RowMapping, states: Sequence[RowMapping]) -> ResumeForm | None:
    """The form for a PAUSED run (None for any other); its fields when it waits for input."""
    if run["state_type"] != "PAUSED":
        return None
    paused = next((s for s in reversed(states) if s["type"] == "PAUSED"), None)
    try:
        details = PauseDetails.model_validate(paused["data"]) if paused and paused["data"] else None
    except ValidationError:  # a PAUSED state proposed by hand, not by pause_flow_run
        details = None
    if details is None:
        return ResumeForm([], None, None, run["state_name"] == "Suspended")
    schema = details.run_input_schema or {}
    order = {name: index for index, name in enumerate(details.input_order)}
    fields = sorted(form_fields(schema, {}), key=lambda f: order.get(f.name, len(order)))
    return ResumeForm(
        fields=fields,
        description=details.description or schema.get("description"),
        expires=details.pause_expiration_time,
        suspended=details.reschedule,
    )
