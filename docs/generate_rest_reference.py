"""Print docs/rest-api.md from the API's OpenAPI document (the one served at /api/openapi.json).

`python docs/generate_rest_reference.py > docs/rest-api.md`; tests/unit/test_generated_docs.py
fails when docs/rest-api.md is not what this prints, so edit the route's summary or the
pydantic model, not the page.
"""

from __future__ import annotations

from typing import Any

from headrace_service.api import all_routes
from headrace_service.api.openapi import openapi_document
from headrace_service.app import API_PREFIX

HEADER = """# REST API reference

Every endpoint of the API, generated from its OpenAPI document by
`python docs/generate_rest_reference.py > docs/rest-api.md` (a test fails when it is out of
date). A running server serves the same document at `GET /api/openapi.json`; point any OpenAPI
tool at it.

- **Base URL**: `http://HOST:4200/api` (every path below starts with `/api`).
- **Auth**: with `HEADRACE_AUTH_ENABLED=true`, send `Authorization: Bearer hr_...`. Each endpoint
  needs a key of at least the scope shown: `read` < `worker` < `admin`
  ([security.md](security.md)); `public` endpoints need none. With auth off, no key is needed.
- **Errors**: a JSON body `{"detail": "what to fix"}`: 401 (no or bad key), 403 (scope too
  small), 404, 409 (a conflict with the current state), 413 (body too large), 422 (invalid
  input, naming the field), 503 (the database is unreachable or busy; retry after
  `Retry-After`).
- **Bodies**: JSON; unknown fields are refused (422) where the schema says "no other fields".

Outside the document: `GET /api/openapi.json` (the document itself, public), `GET /api/events`
(Server-Sent Events, one `data:` line of JSON per flow run state change; `?flow_run=ID` for one
run; scope `read`) and `GET /metrics` (Prometheus, scope `read`; see
[operations.md](operations.md)).
"""

JSON = "application/json"


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(schema: dict[str, Any]) -> str:
    """A short type: `string (uuid)`, `array of [FlowRun](#flowrun)`, `integer or null`."""
    if "$ref" in schema:
        name = ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(type_text(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "const" in schema:
        return f"`{schema['const']!r}`".replace("'", '"')
    if "enum" in schema:
        return " or ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return "array of " + type_text(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        if isinstance(values, dict) and values:
            return "object of " + type_text(values)
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind is None:
        return "any"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def constraints(schema: dict[str, Any]) -> str:
    words = {
        "minimum": ">= {}",
        "exclusiveMinimum": "> {}",
        "maximum": "<= {}",
        "exclusiveMaximum": "< {}",
        "minLength": "at least {} characters",
        "maxLength": "at most {} characters",
        "maxItems": "at most {} items",
        "pattern": "matches `{}`",
    }
    found = [template.format(schema[key]) for key, template in words.items() if key in schema]
    for option in schema.get("anyOf", []):
        found += [template.format(option[k]) for k, template in words.items() if k in option]
    return ", ".join(found)


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def default_text(schema: dict[str, Any]) -> str:
    if "default" not in schema or schema["default"] is None:
        return ""
    default = schema["default"]
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def field_rows(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| Field | Type | Required | Default | Notes |", "| --- | --- | --- | --- | --- |"]
    for name, prop in schema.get("properties", {}).items():
        notes = "; ".join(x for x in (prop.get("description", ""), constraints(prop)) if x)
        rows.append(
            f"| `{name}` | {cell(type_text(prop))} | {'yes' if name in required else ''} | "
            f"{cell(default_text(prop))} | {cell(notes)} |"
        )
    return rows


def scope_of(operation: dict[str, Any]) -> str:
    """The key scope an operation needs: the role of its bearer requirement, else public."""
    roles = [role for need in operation.get("security", []) for r in need.values() for role in r]
    return roles[0] if roles else "public"


def operation_section(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} {path}", "", operation.get("summary") or "", ""]
    lines += [f"Scope: `{scope_of(operation)}`.", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| Parameter | In | Type | Required | Default | Notes |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        for p in parameters:
            schema = p.get("schema", {})
            lines.append(
                f"| `{p['name']}` | {p['in']} | {cell(type_text(schema))} | "
                f"{'yes' if p.get('required') else ''} | {cell(default_text(schema))} | "
                f"{cell(constraints(schema))} |"
            )
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema")
    if body:
        lines += [f"Request body: {type_text(body)}.", ""]
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get(JSON, {}).get("schema")
        answer = f"`{status}` with {type_text(schema)}" if schema else f"`{status}`"
        lines += [f"Response: {answer}.", ""]
    errors = [s for s in operation.get("responses", {}) if not s.startswith("2")]
    if errors:
        lines += ["Errors: " + ", ".join(f"`{s}`" for s in errors) + ".", ""]
    return lines


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    if "properties" in schema:
        if schema.get("additionalProperties") is False:
            lines += ["No other fields.", ""]
        lines += [*field_rows(schema), ""]
    else:
        lines += [f"{type_text(schema)}.", ""]
    return lines


def rest_markdown(document: dict[str, Any]) -> str:
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    tags = sorted({(op.get("tags") or ["other"])[0] for _, _, op in operations})
    lines = [HEADER, "## Endpoints", ""]
    lines += ["| Method | Path | Scope | What it does |", "| --- | --- | --- | --- |"]
    sections: list[str] = []
    for tag in tags:
        sections += [f"## {tag}", ""]
        for path, method, operation in operations:
            if (operation.get("tags") or ["other"])[0] != tag:
                continue
            anchor = "".join(
                c for c in f"{method} {path}".lower() if c.isalnum() or c in " -_"
            ).replace(" ", "-")
            lines.append(
                f"| {method.upper()} | [`{path}`](#{anchor}) | `{scope_of(operation)}` | "
                f"{cell(operation.get('summary') or '')} |"
            )
            sections += operation_section(path, method, operation)
    lines += ["", *sections, "## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += schema_section(name, schema)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    document = openapi_document(all_routes(), API_PREFIX, "reference")
    print(rest_markdown(document), end="")


if __name__ == "__main__":
    main()
