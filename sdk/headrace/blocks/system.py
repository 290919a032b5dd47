"""The built-in blocks: `Secret`, `JSON`, `String`, `DateTime` (as in Prefect)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import Field, JsonValue, SecretStr, StrictStr, field_validator
from pydantic import Secret as PydanticSecret

from headrace.blocks.core import Block

_SecretValue = (
    Annotated[StrictStr, Field(title="string")] | Annotated[JsonValue, Field(title="JSON")]
)
V = TypeVar("V", bound=_SecretValue)


class Secret(Block, Generic[V]):
    """A secret value (a string or JSON), encrypted at rest, masked wherever people look."""

    value: SecretStr | PydanticSecret[V] = Field(
        description="A value to keep secret.",
        json_schema_extra={"writeOnly": True, "format": "password"},
    )

    @field_validator("value", mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        if isinstance(value, SecretStr | PydanticSecret):
            return value
        return PydanticSecret[type(value)](value)  # type: ignore[misc,operator]

    def get(self) -> Any:
        """The value in clear; a string holding JSON comes back parsed, as in Prefect."""
        value = self.value.get_secret_value()
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


class JSON(Block):
    """Any JSON value."""

    value: Any = Field(description="A JSON-compatible value.")


class String(Block):
    """A string."""

    value: str = Field(description="A string value.")


class DateTime(Block):
    """A date and time."""

    _block_type_name = "Date Time"

    value: datetime = Field(description="An ISO 8601 date and time.")
