"""A request id per HTTP request: the caller's `X-Request-ID`, else a new one.

A pure ASGI middleware (no body buffering, so SSE streams pass through untouched) puts the id
in a context variable that the log filter of `headrace_service.logs` reads, and echoes it in
the response's `X-Request-ID` header so a client can quote it when reporting a problem. It logs
one access line per failed request (4xx at INFO, 5xx at WARNING) and, at DEBUG, per request
(method, path, status, duration; never headers or the query string).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("headrace.access")
HEADER = "X-Request-ID"
current_request_id: ContextVar[str | None] = ContextVar("headrace_request_id", default=None)
# A caller's id lands in every log line of its request: only short, plain ids are taken as
# they are (a proxy's uuid or trace id); anything else is replaced rather than logged.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(headers: Headers) -> str:
    given = headers.get(HEADER, "")
    return given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex


def access_level(status: int) -> int:
    """A failed request is one line at the default level; a server error is a warning."""
    if status >= 500:
        return logging.WARNING
    return logging.INFO if status >= 400 else logging.DEBUG


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))

        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
                status = message["status"]
                log.log(
                    access_level(status),
                    "%s %s %d in %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        token = current_request_id.set(request_id)
        # On an exception the id stays set on purpose: Starlette's outermost error middleware
        # logs the unhandled error after this frame, in the same task (uvicorn runs each
        # request in its own task, so the value never reaches another request).
        await self.app(scope, receive, send_with_id)
        current_request_id.reset(token)
