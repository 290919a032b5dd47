"""The dashboard under auth: a login page that keeps the key in a cookie, and a guard for pages.

Pages and EventSource streams cannot send an Authorization header, so the browser presents the
key as an HttpOnly, SameSite=Strict cookie (scripts cannot read it; other sites cannot send it).
`guard_routes` wraps every dashboard route, including ones added later: GET pages and the SSE
stream need a read key, anything else an admin key. Without a valid key a page answers 401 with
the login form, so the browser shows it and comes back to the same page after logging in.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from headrace_service.auth import COOKIE_NAME, authenticate, require_scope
from headrace_service.errors import PayloadTooLarge, Unauthorized

Endpoint = Callable[[Request], Awaitable[Response]]

LOGIN_PATH = "/login"
MAX_FORM_BYTES = 4096
COOKIE_MAX_AGE_SECONDS = 30 * 24 * 3600

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · headrace</title><link rel="stylesheet" href="/static/headrace.css"></head>
<body><main id="main" class="login">
<h1>headrace</h1>
<p>This server requires an API key. Create one on the server's host with
<code>headrace server api-key create NAME --scope read</code>.</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></main></body></html>
"""


def login_page(next_path: str, error: str | None, status: int) -> HTMLResponse:
    message = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    body = LOGIN_PAGE.format(error=message, next=html.escape(safe_next(next_path)))
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def safe_next(path: str) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def guarded(endpoint: Endpoint, scope: str) -> Endpoint:
    async def guard(request: Request) -> Response:
        try:
            await require_scope(request, scope)
        except Unauthorized as error:
            if not wants_html(request):
                raise
            return login_page(request.url.path, error.detail, 401)
        return await endpoint(request)

    return guard


def guard_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The same routes, each plain Route behind `require_scope` (static files stay public)."""
    guarded_routes: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route):
            methods = route.methods or {"GET"}
            scope = "read" if methods <= {"GET", "HEAD"} else "admin"
            route = Route(
                route.path,
                guarded(route.endpoint, scope),
                methods=sorted(methods),
                name=route.name,
            )
        guarded_routes.append(route)
    return guarded_routes


async def show_login(request: Request) -> Response:
    return login_page(request.query_params.get("next", "/"), None, 200)


async def log_in(request: Request) -> Response:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"the login form is over the limit of {MAX_FORM_BYTES} bytes")
    form = parse_qs(raw.decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    next_path = safe_next((form.get("next") or ["/"])[0])
    try:
        await authenticate(request, key)
    except Unauthorized as error:
        return login_page(next_path, error.detail, 401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        key,
        max_age=COOKIE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def log_out(request: Request) -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="strict")
    return response


def login_routes() -> list[BaseRoute]:
    return [
        Route(LOGIN_PATH, show_login, methods=["GET"]),
        Route(LOGIN_PATH, log_in, methods=["POST"]),
        Route("/logout", log_out, methods=["POST"]),
    ]
