"""Declarative API routes: each endpoint states its method, path, models and scope in one place.

The same declarations build the Starlette routes, the OpenAPI document and (later) the auth
checks, so none of them can drift from the others.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from headrace_service.errors import InvalidInput, PayloadTooLarge

Endpoint = Callable[..., Awaitable[Any]]


@dataclass
class ApiRoute:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    scope: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    tags: list[str] = field(default_factory=list)

    def starlette_route(self, prefix: str) -> Route:
        adapter = TypeAdapter(self.response) if self.response is not None else None

        async def handle(request: Request) -> Response:
            kwargs: dict[str, Any] = dict(request.path_params)
            if self.query is not None:
                kwargs["query"] = validate(self.query, dict(request.query_params), "query")
            if self.body is not None:
                kwargs["body"] = validate(self.body, await read_json(request), "body")
            result = await self.endpoint(request, **kwargs)
            if isinstance(result, Response):
                return result
            content = adapter.dump_json(result) if adapter is not None else json.dumps(result)
            return Response(content, status_code=self.status, media_type="application/json")

        return Route(prefix + self.path, handle, methods=[self.method], name=self.endpoint.__name__)


class Router:
    """Collects the routes of one resource module."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[ApiRoute] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        scope: str = "read",
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
    ) -> Callable[[Endpoint], Endpoint]:
        def register(fn: Endpoint) -> Endpoint:
            summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            self.routes.append(
                ApiRoute(
                    method, path, fn, summary, scope, body, query, response, status, [self.tag]
                )
            )
            return fn

        return register


async def read_json(request: Request) -> Any:
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over the limit of {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body over the limit of {limit} bytes")
    if not raw:
        raise InvalidInput("a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None


def validate(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, where)) from None


def describe_validation_error(exc: ValidationError, where: str) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}.{loc}: {error['msg']}" if loc else f"{where}: {error['msg']}")
    return "; ".join(parts)


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
