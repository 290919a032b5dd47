"""Declarative API routes: each endpoint states its method, path, models and scope in one place.

The same declarations build the Starlette routes, the OpenAPI document and the auth checks
(`scope`: public, read, worker or admin; see auth.py), so none of them can drift from the others.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from headrace.schemas.common import json_depth
from headrace_service.app_state import request_state
from headrace_service.auth import ROUTE_SCOPES, require_scope
from headrace_service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

Endpoint = Callable[..., Awaitable[Any]]

# Deeper request JSON than any real client sends; parameters have a tighter cap of their own.
MAX_JSON_DEPTH = 64


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
    # "lease": the small pool kept for lease renewals (settings.db_lease_pool_size).
    pool: Literal["main", "lease"] = "main"
    # The endpoint is given the body's bytes (size and Content-Type checked) as `body`, and
    # validates them itself with `validate_json(<body model>, body)`: for bodies that are big
    # and frequent (log batches), stored as they came rather than kept as Python objects and
    # serialised again, and whose model holds no free-form JSON (so no depth to check: every
    # nesting level is a declared field).
    raw_body: bool = False
    # The largest body in bytes; None: HEADRACE_MAX_BODY_BYTES.
    max_body: int | None = None

    def starlette_route(self, prefix: str) -> Route:
        adapter = TypeAdapter(self.response) if self.response is not None else None

        async def handle(request: Request) -> Response:
            if self.pool == "lease":
                state = request_state(request)
                state["database"] = state["lease_db"]
            # Before reading anything the client sent: an unauthorised caller learns nothing.
            await require_scope(request, self.scope)
            kwargs: dict[str, Any] = dict(request.path_params)
            check_text_params(kwargs, "path")
            if self.query is not None:
                params = dict(request.query_params)
                check_text_params(params, "query")
                kwargs["query"] = validate(self.query, params, "query")
            if self.body is not None and self.raw_body:
                kwargs["body"] = await read_json_bytes(request, self.max_body)
            elif self.body is not None:
                raw = await read_json(request, self.max_body)
                kwargs["body"] = validate(self.body, raw, "body")
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
        pool: Literal["main", "lease"] = "main",
        raw_body: bool = False,
        max_body: int | None = None,
    ) -> Callable[[Endpoint], Endpoint]:
        if scope not in ROUTE_SCOPES:
            raise ValueError(f"route {method} {path}: unknown scope {scope!r}")

        def register(fn: Endpoint) -> Endpoint:
            summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            self.routes.append(
                ApiRoute(
                    method,
                    path,
                    fn,
                    summary,
                    scope,
                    body,
                    query,
                    response,
                    status,
                    [self.tag],
                    pool,
                    raw_body,
                    max_body,
                )
            )
            return fn

        return register


async def read_json_bytes(request: Request, limit: int | None = None) -> bytes:
    """The JSON request body's bytes, at most `limit` (default: HEADRACE_MAX_BODY_BYTES),
    refused with 413 as soon as it passes the limit; never empty."""
    if limit is None:
        limit = request_state(request)["settings"].max_body_bytes
    too_large = f"request body over the limit of {limit} bytes"
    refuse_declared_over(request, limit, too_large)  # a 413 says more than a 415 would
    require_json_content_type(request)
    raw = await read_body(request, limit, too_large)
    if not raw:
        raise InvalidInput("a JSON body is required")
    return raw


async def read_json(request: Request, limit: int | None = None) -> Any:
    """The JSON body, parsed, its nesting bounded."""
    raw = await read_json_bytes(request, limit)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    # NUL characters in bodies are left to the stores: logs keep them escaped, and anything
    # else PostgreSQL refuses (a DataError) becomes a 422 in app.py.
    if json_depth(data) > MAX_JSON_DEPTH:
        raise InvalidInput(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def require_json_content_type(request: Request) -> None:
    """415 unless the body is declared JSON. A page of another site can send text/plain, a form
    or multipart without asking; `application/json` makes the browser ask first (CORS), and
    this server never says yes."""
    declared = request.headers.get("content-type", "")
    media_type = declared.partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            f"the body must be JSON sent with `Content-Type: application/json`, not "
            f"{media_type or 'no Content-Type'!s}"
        )


async def read_body(request: Request, limit: int, too_large: str) -> bytes:
    """The raw request body; PayloadTooLarge(`too_large`) once over `limit` bytes, declared
    (Content-Length) or sent, without reading further."""
    refuse_declared_over(request, limit, too_large)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(too_large)
    return bytes(raw)


def refuse_declared_over(request: Request, limit: int, too_large: str) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)


def check_text_params(params: dict[str, Any], where: str) -> None:
    """Path and query parameters: no NUL, which no name or id can contain anyway."""
    for name, value in params.items():
        if isinstance(value, str):
            reject_nul(value, f"{where}.{name}")


def reject_nul(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidInput(f"{where[:200]}: NUL characters (\\u0000) are not allowed in text")


def validate(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, where)) from None


def validate_json(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise InvalidInput(f"the body is not valid JSON: {exc.errors()[0]['msg']}") from None
        raise InvalidInput(describe_validation_error(exc, "body")) from None


def describe_validation_error(exc: ValidationError, where: str) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}.{loc}: {error['msg']}" if loc else f"{where}: {error['msg']}")
    return "; ".join(parts)


def error_response(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
