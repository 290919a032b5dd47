"""API keys and scopes: who may call what.

Every API route declares its scope in its `Router.route(...)` line; `ApiRoute` calls
`require_scope` before anything else, so a route added later is protected without further work.
Dashboard pages and the SSE stream call the same function. (This module reads the database
and settings from the request's state itself: importing api.deps would import the routers,
which import this module.)

No cache of verified keys: each authenticated request makes one probe of the unique index on
api_key.key_hash (well under a millisecond next to the request's own queries), so a revoked key
stops working at once on every replica, with nothing to invalidate.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from headrace.schemas.api_keys import Scope
from headrace_service.app_state import request_database, request_state
from headrace_service.errors import Forbidden, StartupError, Unauthorized
from headrace_service.principal import Principal
from headrace_service.request_guard import guard_policy, is_loopback, sent_by_trusted_page
from headrace_service.settings import ServerSettings
from headrace_service.store import api_keys as store

PUBLIC = "public"
SCOPE_RANK = {Scope.READ: 1, Scope.WORKER: 2, Scope.ADMIN: 3}
ROUTE_SCOPES = frozenset({PUBLIC, *(s.value for s in Scope)})

KEY_PREFIX = "hr_"
# A real key is "hr_" + 43 characters; anything much longer is not worth hashing.
MAX_KEY_LENGTH = 200
# The dashboard keeps the key in an HttpOnly cookie: pages and EventSource cannot send headers.
COOKIE_NAME = "headrace_api_key"
# The cookie is accepted on reads, and on writes only from this server's own pages (their Origin
# header names this host) or HEADRACE_ALLOWED_ORIGINS, so another site cannot make a logged-in
# browser change anything.
COOKIE_METHODS = frozenset({"GET", "HEAD"})


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # A plain SHA-256 is enough here, unlike for passwords: keys are 256 random bits, so there
    # is no dictionary to try and a slow, salted hash would add nothing but cost per request.
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    conn: AsyncConnection, *, name: str, scope: Scope, expires_in_seconds: int | None
) -> tuple[RowMapping, str]:
    """A new key: the row (no secret in it) and the key, which is shown once and not stored."""
    key = generate_key()
    row = await store.api_key_create(
        conn,
        name=name,
        scope=scope.value,
        key_hash=hash_key(key),
        expires_in_seconds=expires_in_seconds,
    )
    return row, key


def presented_key(request: Request) -> str | None:
    """The key sent as `Authorization: Bearer ...`, else the dashboard's cookie on reads."""
    header = request.headers.get("authorization")
    if header is not None:
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be `Bearer <API key>`")
        return value.strip()
    policy = guard_policy(request_state(request)["settings"])
    if request.method in COOKIE_METHODS or sent_by_trusted_page(request.headers, policy):
        return request.cookies.get(COOKIE_NAME) or None
    return None


async def authenticate(request: Request, key: str) -> Principal:
    """The key's principal; 401 for a key that is unknown, revoked or expired."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        raise Unauthorized("the API key is not valid (headrace keys start with hr_)")
    # The route's own pool: a heartbeat's key check must not wait behind an exhausted main pool.
    async with request_database(request).begin() as conn:
        row = await store.api_key_by_hash(conn, hash_key(key))
        if row is None:
            raise Unauthorized("the API key is not valid")
        now = datetime.now(UTC)
        if row["revoked_at"] is not None:
            raise Unauthorized(f"the API key {row['name']!r} was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise Unauthorized(f"the API key {row['name']!r} expired at {row['expires_at']}")
        last_used = row["last_used"]
        resolution = timedelta(seconds=store.LAST_USED_RESOLUTION_SECONDS)
        if last_used is None or now - last_used >= resolution:
            await store.api_key_touch(conn, row["id"])
    return Principal(row["id"], row["name"], Scope(row["scope"]))


async def require_scope(request: Request, scope: str) -> Principal | None:
    """Check that the request carries a key of at least `scope` (401/403 otherwise).

    Returns the key's principal, or None when auth is off or the scope is "public".
    """
    if scope not in ROUTE_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; known: {sorted(ROUTE_SCOPES)}")
    state = request_state(request)
    if scope == PUBLIC or not state["settings"].auth_enabled:
        return None
    principal = state.get("principal")
    if principal is None:
        key = presented_key(request)
        if key is None:
            raise Unauthorized(
                "this endpoint needs an API key: send `Authorization: Bearer <key>` "
                "(the CLI, SDK and worker send HEADRACE_API_KEY)"
            )
        principal = await authenticate(request, key)
        state["principal"] = principal
    needed = Scope(scope)
    if SCOPE_RANK[principal.scope] < SCOPE_RANK[needed]:
        raise Forbidden(
            f"the API key {principal.name!r} has scope {principal.scope.value}; "
            f"{request.method} {request.url.path} needs scope {needed.value}"
        )
    return principal


def check_bind_is_safe(settings: ServerSettings) -> None:
    """Refuse to serve without auth on an address others can reach, unless told explicitly."""
    if settings.auth_enabled or settings.insecure_no_auth or is_loopback(settings.host):
        return
    raise StartupError(
        f"refusing to listen on {settings.host} without auth: anyone who reaches it could run "
        "code on your workers; set HEADRACE_AUTH_ENABLED=true (see docs/security.md) or pass "
        "--insecure-no-auth"
    )
