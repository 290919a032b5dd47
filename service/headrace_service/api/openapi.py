"""The OpenAPI document, made from the same route declarations and pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from headrace_service.api.routing import ApiRoute

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def openapi_document(routes: list[ApiRoute], prefix: str, version: str) -> dict[str, Any]:
    models = {r.body for r in routes if r.body is not None}
    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(defs.get("$defs", {}))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, Any] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.endpoint.__name__,
            "summary": route.summary,
            "tags": route.tags,
            "responses": _responses(route, components),
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", route.path)
        ]
        if route.query is not None:
            schema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, prop in schema.get("properties", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in schema.get("required", []),
                        "schema": prop,
                    }
                )
        if params:
            operation["parameters"] = params
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}
                    }
                },
            }
        if route.scope != "public":
            # OpenAPI 3.1 lets a bearer requirement list roles: the key's scope, at least.
            operation["security"] = [{"bearer": [route.scope]}]
        paths.setdefault(prefix + openapi_path(route.path), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "headrace API", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _responses(route: ApiRoute, components: dict[str, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        schema = TypeAdapter(route.response).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        components.update(schema.pop("$defs", {}))
        ok["content"] = {"application/json": {"schema": schema}}
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    secured = {"401": error, "403": error} if route.scope != "public" else {}
    # 415: a JSON body sent as another type; 421: a Host the server does not answer to.
    json_body = {"415": error} if route.body is not None else {}
    return {
        str(route.status): ok,
        **secured,
        "404": error,
        "409": error,
        "413": error,
        **json_body,
        "421": error,
        "422": error,
        "503": error,
    }


def openapi_path(route_path: str) -> str:
    """A route's path as OpenAPI writes it: `{key:path}` (a parameter that may hold a `/`) is
    `{key}`."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", route_path)
