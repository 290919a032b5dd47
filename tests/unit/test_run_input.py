"""`RunInput`: the model a paused flow waits for, and its JSON schema (the Resume form's)."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import Field

from headrace.input import RunInput


class Approval(RunInput):
    """Approve the load."""

    approver: str = Field(description="Who approves", max_length=5)
    copies: int = 1


def test_with_initial_data_keeps_each_field_as_declared_with_a_new_default() -> None:
    model = Approval.with_initial_data(description="Please approve", approver="ann")
    assert model.description == "Please approve"
    assert model().approver == "ann"
    schema = model.run_input_schema()
    assert schema["properties"]["approver"] == {
        "default": "ann",
        "description": "Who approves",
        "maxLength": 5,
        "title": "Approver",
        "type": "string",
    }
    with pytest.raises(pydantic.ValidationError, match="at most 5 characters"):
        model(approver="somebody")
    with pytest.raises(ValueError, match="Approval has no field 'who'"):
        Approval.with_initial_data(who="ann")


def test_unknown_input_fields_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        Approval.model_validate({"approver": "ann", "approved": True})
    assert Approval.run_input_schema()["description"] == "Approve the load."
