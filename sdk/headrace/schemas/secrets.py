"""Secret parameters: where a parameter JSON schema puts secrets, and masking them in values.

pydantic marks `SecretStr` and `SecretBytes` in a JSON schema as `writeOnly: true, format:
password`, wherever they sit: a parameter itself, `SecretStr | None` (anyOf), a field of a
nested model or dataclass ($ref into $defs), list items, tuple positions, dict values. The
value is stored as given, so runs get it, and every read meant for people or read keys goes
through `mask_secret_parameters`, which walks the value beside its schema and replaces each
secret with `SECRET_MASK`. Where the schema is ambiguous (a union) every branch that could mark
a value secret does: masking too much is safe, too little is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationInfo

SECRET_MASK = "**********"

# Keywords whose sub-schema may apply to the same value: each is walked, and any masks.
_BRANCH_LISTS = ("anyOf", "oneOf", "allOf")
_BRANCHES = ("then", "else")
# Every keyword under which a secret may hide, for `contains_secret`.
# ($defs are reached through the $refs that use them.)
_CHILD_MAPS = ("properties", "patternProperties", "dependentSchemas")
_CHILD_SCHEMAS = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "then",
    "else",
)
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems", "items")


def is_secret(schema: Any) -> bool:
    """The schema itself marks its value secret."""
    return isinstance(schema, dict) and (
        schema.get("writeOnly") is True or schema.get("format") == "password"
    )


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    """Follow a local `$ref` (`#/$defs/Name`); an unknown or remote one resolves to {}."""
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {}
        # Keywords beside the $ref (a description, writeOnly) still apply.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _branches(schema: dict[str, Any]) -> list[Any]:
    found: list[Any] = [schema.get(key) for key in _BRANCHES if key in schema]
    for key in _BRANCH_LISTS:
        options = schema.get(key)
        if isinstance(options, list):
            found.extend(options)
    return found


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # a pattern Python cannot read: assume it applies


def _mask_object(
    value: dict[str, Any], schema: dict[str, Any], root: Mapping[str, Any], walked: int = 0
) -> Any:
    properties = schema.get("properties")
    patterns = schema.get("patternProperties")
    rest = [schema.get(k) for k in ("additionalProperties", "unevaluatedProperties")]
    masked = {}
    for key, item in value.items():
        if isinstance(properties, dict) and key in properties:
            item = _mask(item, properties[key], root, walked)
        else:
            matched = False
            if isinstance(patterns, dict):
                for pattern, sub in patterns.items():
                    if _matches(pattern, key):
                        matched = True
                        item = _mask(item, sub, root, walked)
            if not matched:
                for sub in rest:
                    item = _mask(item, sub, root, walked)
        masked[key] = item
    return masked


def _mask_array(
    value: list[Any], schema: dict[str, Any], root: Mapping[str, Any], walked: int
) -> Any:
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    if isinstance(items, list):  # draft 2019 and older: items as a list is prefixItems
        prefix, items = items, schema.get("additionalItems")
    prefix = prefix if isinstance(prefix, list) else []
    masked = []
    for index, item in enumerate(value):
        if index < len(prefix):
            item = _mask(item, prefix[index], root, walked)
        else:
            for sub in (items, schema.get("unevaluatedItems")):
                item = _mask(item, sub, root, walked)
        masked.append(item)
    return masked


# Values nest at most 32 levels (common.MAX_PARAMETERS_DEPTH); a walk deeper than this is a
# schema that refers to itself through unions without descending: mask rather than recurse.
_MAX_WALK = 256


def _mask(value: Any, schema: Any, root: Mapping[str, Any], walked: int = 0) -> Any:
    if value is None or not isinstance(schema, dict):
        return value
    if walked > _MAX_WALK:
        return SECRET_MASK if contains_secret(schema, root) else value
    schema = _resolve(schema, root)
    if is_secret(schema):
        return SECRET_MASK
    for branch in _branches(schema):
        value = _mask(value, branch, root, walked + 1)
        if value == SECRET_MASK:
            return value
    if isinstance(value, dict):
        return _mask_object(value, schema, root, walked + 1)
    if isinstance(value, list):
        return _mask_array(value, schema, root, walked + 1)
    return value


def mask_secret_parameters(
    parameters: dict[str, Any], schema: dict[str, Any] | None
) -> dict[str, Any]:
    """`parameters` with every value the schema marks secret, however deep, replaced by the
    mask. Values nest at most 32 levels (common.MAX_PARAMETERS_DEPTH), which bounds the walk."""
    if not schema or not contains_secret(schema):
        return parameters
    masked: dict[str, Any] = _mask_object(parameters, schema, schema)
    return masked


def contains_secret(schema: Any, root: Mapping[str, Any] | None = None) -> bool:
    """The schema marks a secret somewhere inside (through $ref, unions, items, properties)."""
    root = schema if root is None and isinstance(schema, dict) else (root or {})
    stack = [schema]
    followed: set[str] = set()  # each $ref once, so a recursive model ends the walk
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in followed:
                followed.add(ref)
                stack.append(_resolve({"$ref": ref}, root))
            node = {k: v for k, v in node.items() if k != "$ref"}
        if is_secret(node):
            return True
        stack.extend(node[key] for key in _CHILD_SCHEMAS if key in node)
        for key in _CHILD_LISTS:
            if isinstance(node.get(key), list):
                stack.extend(node[key])
        for key in _CHILD_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend(node[key].values())
    return False


def parameters_with_secrets(schema: dict[str, Any] | None) -> set[str]:
    """Names of the parameters whose value holds a secret anywhere inside."""
    root = schema or {}
    properties = root.get("properties") or {}
    return {
        name
        for name, prop in properties.items()
        if isinstance(prop, dict) and contains_secret(prop, root)
    }


def masked_parameters(data: Any, info: ValidationInfo) -> Any:
    """A `mode="before"` model validator: mask `parameters` with the row's `parameter_schema`,
    unless validated with context {"reveal_secrets": True} (the engine, with a worker key)."""
    if (
        isinstance(data, Mapping)
        and data.get("parameter_schema")
        and not (info.context or {}).get("reveal_secrets")
    ):
        parameters = data.get("parameters") or {}
        return {**data, "parameters": mask_secret_parameters(parameters, data["parameter_schema"])}
    return data
