"""Concurrency keys at the API's edge: a template that cannot be used is a 422 naming the field
(at deploy time) or the parameter (when a run is created)."""

from __future__ import annotations

from typing import Any

from headrace_service.concurrency_keys import (
    KeyRenderError,
    KeyTemplateError,
    check_template,
    render_key,
)
from headrace_service.errors import InvalidInput


def check_key(template: str | None, parameter_schema: dict[str, Any]) -> None:
    if template is None:
        return
    try:
        check_template(template, parameter_schema)
    except KeyTemplateError as exc:
        raise InvalidInput(f"body.concurrency_key: {exc}") from None


def run_key(template: str | None, parameters: dict[str, Any]) -> str | None:
    """The run's key value; None when the deployment has no key."""
    if template is None:
        return None
    try:
        return render_key(template, parameters)
    except KeyRenderError as exc:
        where = f"body.parameters.{exc.parameter}" if exc.parameter else "body.parameters"
        raise InvalidInput(f"{where}: {exc}") from None
