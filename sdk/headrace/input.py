"""Typed input for paused flow runs (`from headrace.input import RunInput`), as in Prefect.

A flow calls `pause_flow_run(wait_for_input=ApprovalInput)`; whoever resumes the run gives the
values (`resume_flow_run(id, run_input={...})`, `headrace flow-run resume ID --input k=v`, or the
Resume form of the run page, drawn from the model's JSON schema) and the flow gets them back as
a validated `ApprovalInput`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.fields import FieldInfo


class RunInput(BaseModel):
    """Subclass it with the fields a person (or another run) must give to resume a paused run.
    Field defaults and `Field(description=...)` become the defaults and help of the Resume form."""

    model_config = ConfigDict(extra="forbid")

    # Shown above the Resume form (plain text); set with `with_initial_data(description=...)`.
    description: ClassVar[str | None] = None

    @classmethod
    def with_initial_data(cls, description: str | None = None, **defaults: Any) -> type[RunInput]:
        """A subclass whose fields default to `defaults` (and that shows `description`)."""
        fields: dict[str, Any] = {}
        for name, value in defaults.items():
            if name not in cls.model_fields:
                raise ValueError(f"{cls.__name__} has no field {name!r}")
            info = cls.model_fields[name]
            # The field as declared (description, constraints), with the new default.
            fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=value))
        model: type[RunInput] = create_model(cls.__name__, __base__=cls, **fields)
        model.description = description if description is not None else cls.description
        return model

    @classmethod
    def run_input_schema(cls) -> dict[str, Any]:
        """The JSON schema the API checks a resume's `run_input` against."""
        return cls.model_json_schema()


__all__ = ["RunInput"]
