"""Turn a deployment's parameter JSON schema into the fields of its dashboard "Run" form.

Typed inputs for the simple types a flow's hints produce (str, int, float, bool, enums, dates);
anything richer (lists, dicts, models, unions) becomes a JSON text area. The server checks the
parameters against the full schema again when the run is created, so the form only needs to
get the common cases right and show the server's message for the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from headrace.schemas.secrets import is_secret, parameters_with_secrets

INPUT_TYPES = {"integer": "number", "number": "number", "string": "text", "boolean": "checkbox"}
STRING_FORMATS = {"date": "date", "date-time": "datetime-local", "email": "email", "uri": "url"}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # integer | number | string | boolean | enum | json: how the script reads it
    input_type: str  # the <input type>, or "select" / "textarea"
    value: str  # pre-filled text (the default), "" for none
    required: bool
    description: str | None
    choices: list[str]
    checked: bool = False


def _simplify(prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`Optional[X]` is anyOf [X, null]: read it as X, and note that null is allowed."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(options, list):
        real = [o for o in options if o.get("type") != "null"]
        if len(real) == 1:
            merged = {**prop, **real[0]}
            merged.pop("anyOf", None)
            merged.pop("oneOf", None)
            return merged, len(real) < len(options)
    return prop, False


def form_fields(schema: dict[str, Any], defaults: dict[str, Any]) -> list[FormField]:
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    holds_secret = parameters_with_secrets(schema)
    fields = []
    for name, raw in properties.items():
        prop, nullable = _simplify(raw if isinstance(raw, dict) else {})
        # A default holding a secret (however deep) is never sent to the browser; left empty,
        # the default applies.
        default = None if name in holds_secret else defaults.get(name, prop.get("default"))
        kind = _kind(prop)
        fields.append(
            FormField(
                name=name,
                label=prop.get("title") or name,
                kind=kind,
                input_type="password" if is_secret(prop) else _input_type(kind, prop),
                value=_text(default, kind),
                # A default (the deployment's or the flow's) makes a parameter optional here.
                required=name in required and name not in defaults and not nullable,
                description=prop.get("description"),
                choices=[str(c) for c in prop.get("enum", [])],
                checked=bool(default) if kind == "boolean" else False,
            )
        )
    return fields


def _kind(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "enum"
    kind = prop.get("type")
    return kind if kind in INPUT_TYPES else "json"


def _input_type(kind: str, prop: dict[str, Any]) -> str:
    if kind == "enum":
        return "select"
    if kind == "json":
        return "textarea"
    if kind == "string":
        return STRING_FORMATS.get(prop.get("format", ""), "text")
    return INPUT_TYPES[kind]


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind in ("string", "enum") and isinstance(value, str):
        return value
    return json.dumps(value)
