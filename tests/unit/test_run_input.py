"""`RunInput`: the model a paused flow waits for, and its JSON schema (the Resume form's)."""

from __future__ import annotations

from typing import Literal

import pydantic
import pytest
from pydantic import Field

from headrace.input import (
    AutomaticRunInput,
    RunInput,
    input_model,
    keyset_from_base_key,
    keyset_from_paused_state,
    run_input_subclass_from_type,
    unwrap,
)
from headrace.states import State, StateType


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


def test_a_bare_type_is_wrapped_in_a_model_with_one_value_field() -> None:
    model = input_model(Literal["red", "blue"])
    assert model.model_json_schema()["properties"]["value"]["enum"] == ["red", "blue"]
    assert unwrap(model.model_validate({"value": "red"})) == "red"
    with pytest.raises(pydantic.ValidationError, match="'red' or 'blue'"):
        model.model_validate({"value": "green"})
    # A model stays the model the flow named; run_input_subclass_from_type makes a RunInput.
    assert input_model(Approval) is Approval
    assert issubclass(run_input_subclass_from_type(pydantic.BaseModel), RunInput)
    assert issubclass(run_input_subclass_from_type(int), AutomaticRunInput)


def test_keysets_name_a_pauses_inputs() -> None:
    paused = State(type=StateType.PAUSED, name="Suspended", details={"pause_key": "ops"})
    assert keyset_from_paused_state(paused) == {
        "description": "suspended-ops-description",
        "response": "suspended-ops-response",
        "schema": "suspended-ops-schema",
    }
    with pytest.raises(RuntimeError, match="'RUNNING' is unsupported"):
        keyset_from_paused_state(State(type=StateType.RUNNING))
    with pytest.raises(RuntimeError, match="no pause key"):
        keyset_from_paused_state(State(type=StateType.PAUSED))
    assert keyset_from_base_key("x")["response"] == "x-response"


def test_respond_needs_an_input_sent_by_a_flow_run() -> None:
    received = Approval(approver="ann")
    with pytest.raises(RuntimeError, match="not sent by a flow run"):
        received.respond(Approval(approver="bob"))
