"""Check a run's parameters against its deployment's JSON schema, naming the bad parameter."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from headrace_service.errors import InvalidInput


def check_schema(schema: dict[str, Any], where: str = "body.parameter_schema") -> None:
    """A 422 when `schema` is not a JSON schema at all (caught at deploy time, not at run time)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InvalidInput(f"{where}: not a valid JSON schema: {error.message}") from None


def check_parameters(
    schema: dict[str, Any], parameters: dict[str, Any], *, where: str = "parameters"
) -> None:
    """A 422 listing every parameter that does not fit `schema`."""
    if not schema:
        return
    errors = sorted(
        Draft202012Validator(schema).iter_errors(parameters), key=lambda e: list(e.absolute_path)
    )
    if errors:
        raise InvalidInput("; ".join(_describe(error, where) for error in errors))


def check_defaults(schema: dict[str, Any], defaults: dict[str, Any]) -> None:
    """The defaults given must fit, though they need not cover every required parameter."""
    check_parameters({**schema, "required": []}, defaults, where="body.parameters")


def _describe(error: ValidationError, where: str) -> str:
    path = [str(part) for part in error.absolute_path]
    if not path and error.validator == "required":
        # "'day' is a required property": name the missing parameter like any other.
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        return f"{where}.{missing}: missing (required by the flow)"
    return f"{'.'.join([where, *path])}: {error.message}"
