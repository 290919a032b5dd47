"""Refuses the requests a web page could make a browser send: cross-site writes and DNS rebinding.

A server on loopback with no auth still runs code for whoever calls it, and a browser on the
same machine can call it on behalf of any page it opens. Two checks, with or without auth:

- Host: the Host header must name this server (HEADRACE_ALLOWED_HOSTS), else 421. A page whose
  own domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own domain as Host, so it
  gets no answer to read and no way to write.
- Origin: a request that may change something (any method but GET, HEAD and OPTIONS) sent by a
  page must come from this server's own pages or from HEADRACE_ALLOWED_ORIGINS, else 403.
  Browsers send Origin on every such request, `no-cors` fetches and form posts included; the
  Referer stands in where an older browser sends no Origin. Programs (the CLI, the SDK,
  workers, curl) send neither and pass.

The third rule lives where JSON bodies are read (api/routing.py): a JSON body must be sent as
`application/json`, a type no page can send to another origin without the browser asking first.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from headrace_service.errors import StartupError
from headrace_service.settings import ServerSettings

ANY_HOST = "*"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Methods that change nothing; every other one needs a trusted origin when a page sends it.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class GuardPolicy:
    """Which Host names this server answers to (None: any) and which other origins may write."""

    hosts: frozenset[str] | None
    origins: frozenset[str]


def guard_policy(settings: ServerSettings) -> GuardPolicy:
    """The policy the settings ask for; a malformed origin is a StartupError naming the setting."""
    origins = set()
    for entry in split_list(settings.allowed_origins):
        origin = origin_of(entry)
        if origin is None or entry.rstrip("/").lower() != origin:
            raise StartupError(
                f"HEADRACE_ALLOWED_ORIGINS: {entry!r} is not an origin; write "
                "scheme://host[:port], e.g. https://headrace.example.com"
            )
        origins.add(origin)
    return GuardPolicy(allowed_hosts(settings), frozenset(origins))


def allowed_hosts(settings: ServerSettings) -> frozenset[str] | None:
    """HEADRACE_ALLOWED_HOSTS, or its default: the loopback names (and the bind address) for a
    server on loopback; any host for one on another address, which needs an API key unless
    started with --insecure-no-auth, so a page that rebinds a name to it still has no key."""
    if settings.allowed_hosts is not None:
        names = [host_name(entry) for entry in split_list(settings.allowed_hosts)]
    elif is_loopback(settings.host):
        names = [*LOOPBACK_NAMES, host_name(settings.host)]
    else:
        return None
    return None if ANY_HOST in names else frozenset(names)


def split_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def is_loopback(host: str) -> bool:
    if host_name(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_name(host)).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def host_name(host: str) -> str:
    """A Host header or address without its port, brackets or trailing dot, lower-cased:
    `Example.com:4200` -> `example.com`, `[::1]:4200` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an Origin or Referer value, lower-cased; None if it has none
    (`null`, sent by sandboxed pages and local files, included)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_origin(headers: Headers) -> str | None:
    """The origin of the page that sent the request, as the browser tells it; "" when the
    request says nothing (not sent by a page); None when it names no origin at all."""
    value = headers.get("origin")
    if value is None:
        value = headers.get("referer")
    if value is None:
        return ""
    return origin_of(value)


def is_trusted_origin(origin: str, host_header: str, policy: GuardPolicy) -> bool:
    """A page of this server (the origin's host and port are the Host the browser sent), or
    one the settings list."""
    own = urlsplit(origin).netloc == host_header.strip().lower()
    return own or origin in policy.origins


def sent_by_trusted_page(headers: Headers, policy: GuardPolicy) -> bool:
    """Whether a page says it sent the request, and is one allowed to change things here."""
    origin = page_origin(headers)
    return bool(origin) and is_trusted_origin(origin or "", headers.get("host", ""), policy)


def refusal(method: str, headers: Headers, policy: GuardPolicy) -> tuple[int, str] | None:
    """The status and message a request is refused with, or None to let it through."""
    host_header = headers.get("host", "")
    if policy.hosts is not None and host_name(host_header) not in policy.hosts:
        return 421, (
            f"this server does not answer to the host name {host_header[:200]!r}; add it to "
            "HEADRACE_ALLOWED_HOSTS (comma-separated) if it is the server's own name "
            "(docs/security.md, Browsers and cross-site requests)"
        )
    if method in SAFE_METHODS:
        return None
    origin = page_origin(headers)
    if origin == "" or (origin is not None and is_trusted_origin(origin, host_header, policy)):
        return None
    named = headers.get("origin", headers.get("referer", ""))
    return 403, (
        f"{method} refused: it was sent by a page of another site ({named[:200]!r}); to let "
        "that site's pages change things here, add its origin to HEADRACE_ALLOWED_ORIGINS "
        "(docs/security.md, Browsers and cross-site requests)"
    )


class RequestGuardMiddleware:
    """Answers a refused request itself (pure ASGI: streams pass through untouched)."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(scope["method"], Headers(scope=scope), self.policy)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, detail = refused
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
