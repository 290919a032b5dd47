"""Hostile input against every route the app serves, taken from its own route table, so a new
route is covered by itself.

Each route gets bad bodies (not JSON, wrong types, over the cap, deeply nested, huge strings,
NUL, invalid UTF-8), bad path parameters (not a UUID, overlong, NUL, invalid UTF-8, encoded
traversal), bad query parameters and bad headers (a list below: adding a header case is one
line). Every answer must come within `DEADLINE_SECONDS`, never be a 5xx, be a 4xx where the
input is wrong, and on /api be JSON with a `detail` message; the server must be healthy after.

The app is the real one (auth on, a real Postgres) called in-process over ASGI with the bytes
exactly as given, which httpx would refuse or fix for some of these requests.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.routing import Mount, Route

from headrace_service.api import all_routes
from headrace_service.api.routing import ApiRoute
from headrace_service.app import API_PREFIX, create_app
from headrace_service.bootstrap_key import register_bootstrap_key
from headrace_service.settings import ServerSettings
from tests.api.conftest import InProcessTransport, RawAnswer, RawRequest, in_process_app

DEADLINE_SECONDS = 2.0
ADMIN_KEY = "hr_" + "h0stile" * 6
MAX_BODY_BYTES = 64 * 1024  # small caps keep "over the cap" cheap to send
MAX_BUNDLE_BYTES = 128 * 1024
AUTH = (b"authorization", f"Bearer {ADMIN_KEY}".encode())
JSON_TYPE = (b"content-type", b"application/json")
# What a well-formed request to a server on its default address carries; each case spoils one
# part of it.
HOST = (b"host", b"127.0.0.1:4200")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WELL_FORMED = [HOST, AUTH, JSON_TYPE]


@dataclass(frozen=True)
class Endpoint:
    """One route of the app's table: a method and a path template."""

    method: str
    path: str
    api: ApiRoute | None = field(compare=False)

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith(API_PREFIX + "/")

    @property
    def reads_body(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH"}

    def target(self, **values: str) -> bytes:
        """The path with each parameter set (already percent-encoded) or a harmless default."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            return values.get(name, default_param(name))

        return re.sub(r"{(\w+)(?::\w+)?}", value, self.path).encode()

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def default_param(name: str) -> str:
    """A well-formed value that names nothing stored: requests get past parsing."""
    if name.endswith("_id"):
        return str(uuid.uuid4())
    if name == "sha256":
        return "0" * 64
    return "nothing-here"


def app_endpoints(app: Any) -> list[Endpoint]:
    """Every method of every route in the app's table (a mount: one file path under it)."""
    api = {(API_PREFIX + r.path, r.method): r for r in all_routes()}
    found: list[Endpoint] = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append(Endpoint(method, route.path, api.get((route.path, method))))
        elif isinstance(route, Mount):
            found.append(Endpoint("GET", route.path + "/{file_path}", None))
    return found


@dataclass
class Case:
    """One hostile request and what its answer must be."""

    endpoint: Endpoint
    what: str
    request: RawRequest
    # The input is wrong whatever the route: the answer must be a 4xx, not just "not a 5xx".
    refused: bool = True


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    sent: int = 0

    def check(self, case: Case, answer: RawAnswer) -> None:
        self.sent += 1
        where = f"{case.endpoint} [{case.what}]"
        if answer.error is not None and not answer.answered:
            self.problems.append(f"{where}: no answer, the app raised {answer.error[:200]}")
            return
        if not answer.answered or answer.seconds > DEADLINE_SECONDS:
            self.problems.append(f"{where}: no answer within {DEADLINE_SECONDS} s (a hang)")
            return
        status = answer.status or 0
        if status >= 500:
            self.problems.append(f"{where}: {status} {answer.body[:200]!r}")
        elif case.refused and not 400 <= status < 500:
            self.problems.append(f"{where}: {status}, expected a 4xx")
        elif case.endpoint.is_api and status >= 400 and not has_json_detail(answer):
            self.problems.append(f"{where}: {status} without a JSON detail: {answer.body[:200]!r}")

    def assert_none(self) -> None:
        if self.problems:
            report = "\n".join(self.problems)
            pytest.fail(f"{len(self.problems)} of {self.sent} answers:\n{report}", pytrace=False)


def has_json_detail(answer: RawAnswer) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        detail = json.loads(answer.body).get("detail")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, str) and bool(detail)


@pytest.fixture
def hostile_app(database_url: str, tmp_path: Path) -> Iterator[InProcessTransport]:
    settings = ServerSettings(
        home=tmp_path,
        database_url=database_url,
        auth_enabled=True,
        max_body_bytes=MAX_BODY_BYTES,
        max_bundle_bytes=MAX_BUNDLE_BYTES,
        log_level="critical",
    )
    register_bootstrap_key(database_url, ADMIN_KEY)
    with in_process_app(create_app(settings, database_url)) as transport:
        yield transport


def send_all(app: InProcessTransport, cases: list[Case]) -> Findings:
    findings = Findings()
    for case in cases:
        findings.check(case, app.call_raw(case.request, DEADLINE_SECONDS))
    assert_healthy(app)
    return findings


def assert_healthy(app: InProcessTransport) -> None:
    """/api/health answers 200 and a write still goes through (no leaked connection)."""
    health = app.call_raw(RawRequest("GET", b"/api/health", [HOST]), DEADLINE_SECONDS)
    assert health.status == 200, health
    name = f"after-{uuid.uuid4().hex[:8]}".encode()
    body = b'{"name": "' + name + b'"}'
    made = app.call_raw(RawRequest("POST", b"/api/work_pools", WELL_FORMED, body), DEADLINE_SECONDS)
    assert made.status == 201, made


def request(
    endpoint: Endpoint,
    *,
    target: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> RawRequest:
    sent_headers = WELL_FORMED if headers is None else headers
    if body:
        sent_headers = [*sent_headers, (b"content-length", str(len(body)).encode())]
    return RawRequest(endpoint.method, target or endpoint.target(), sent_headers, body)


# -- bodies ---------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


BODIES: list[tuple[str, Callable[[list[str]], bytes]]] = [
    ("empty body", lambda fields: b""),
    ("not JSON", lambda fields: b"{not json"),
    ("JSON array", lambda fields: b"[]"),
    ("JSON string", lambda fields: b'"text"'),
    ("JSON null", lambda fields: b"null"),
    ("JSON number", lambda fields: b"12"),
    ("every field a wrong type", lambda fields: json.dumps({f: [[1]] for f in fields}).encode()),
    (
        "every field 200k chars",
        lambda fields: json.dumps({f: "x" * 200_000 for f in fields})[
            : MAX_BODY_BYTES - 1
        ].encode(),
    ),
    ("every field with NUL", lambda fields: json.dumps({f: "a\x00b" for f in fields}).encode()),
    ("invalid UTF-8", lambda fields: b'{"name": "\xff\xfe\xfd"}'),
    ("body over the cap", lambda fields: b'{"x": "' + b"a" * (MAX_BUNDLE_BYTES + 1) + b'"}'),
    ("array nested 100k deep", lambda fields: b"[" * 100_000 + b"]" * 100_000),
    ("object nested 50k deep", lambda fields: nested(50_000)),
    ("object nested 100 deep", lambda fields: nested(100)),
    ("number of 5000 digits", lambda fields: b'{"limit": ' + b"9" * 5000 + b"}"),
    ("number 1e999", lambda fields: json.dumps({f: 1e999 for f in fields}).encode()),
    ("unknown field only", lambda fields: b'{"no_such_field": 1}'),
]


def body_cases(endpoints: list[Endpoint]) -> list[Case]:
    cases = []
    for endpoint in endpoints:
        if not endpoint.reads_body:
            continue
        body_model = endpoint.api.body if endpoint.api else None
        fields = list(body_model.model_fields) if body_model else ["name"]
        for what, make in BODIES:
            cases.append(
                Case(endpoint, what, request(endpoint, body=make(fields)), refused=endpoint.is_api)
            )
    return cases


# -- path parameters ------------------------------------------------------------------------

PATH_VALUES = [
    ("not a UUID", "not-a-uuid"),
    ("10k characters", "x" * 10_000),
    ("NUL", "%00"),
    ("invalid UTF-8", "%FF%FE"),
    ("encoded traversal", "..%2F..%2Fetc%2Fpasswd"),
    ("CR LF", "a%0D%0Ab"),
    ("unicode", quote("名前✓")),
    ("SQL", quote("' OR 1=1 --", safe="")),
]


def path_cases(endpoints: list[Endpoint]) -> list[Case]:
    cases = []
    for endpoint in endpoints:
        for param in endpoint.params:
            for what, value in PATH_VALUES:
                cases.append(
                    Case(
                        endpoint,
                        f"{param}: {what}",
                        request(endpoint, target=endpoint.target(**{param: value}), body=b"{}")
                        if endpoint.reads_body
                        else request(endpoint, target=endpoint.target(**{param: value})),
                        refused=endpoint.is_api,
                    )
                )
    return cases


# -- query parameters -----------------------------------------------------------------------

# (what, value, refused by a typed field: a number, a boolean, a UUID); NUL is refused by every
# field; the rest may be accepted, never a 5xx.
QUERY_VALUES = [
    ("not a number", "abc", True),
    ("negative", "-1", False),
    ("5000 digits", "9" * 5000, False),
    ("1e999", "1e999", False),
    ("NaN", "nan", False),
    ("NUL", "%00", True),
    ("invalid UTF-8", "%FF%FE", True),
    ("10k characters", "x" * 10_000, True),
]


def query_cases(endpoints: list[Endpoint]) -> list[Case]:
    cases = []
    for endpoint in endpoints:
        query_model = endpoint.api.query if endpoint.api else None
        base = endpoint.target()
        if query_model is None:
            # Parameters a route does not read must not trouble it.
            junk = b"?flow_run=not-a-uuid&limit=abc&next=%00&bogus=%FF"
            cases.append(
                Case(endpoint, "unread junk query", request(endpoint, target=base + junk), False)
            )
            continue
        for name, prop in query_model.model_json_schema()["properties"].items():
            text = "string" in json.dumps(prop) and "uuid" not in json.dumps(prop)
            for what, value, wrong_if_typed in QUERY_VALUES:
                target = base + f"?{name}={value}".encode()
                refused = what == "NUL" or (wrong_if_typed and not text)
                cases.append(
                    Case(endpoint, f"{name}: {what}", request(endpoint, target=target), refused)
                )
    return cases


# -- headers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderCase:
    """Headers replacing (or, with None, removing) the ones a well-formed request sends.
    `refused`: every route that needs a key must answer 4xx (else: anything but a 5xx);
    `writes_refused`: every route that changes something must answer 4xx, key or not."""

    what: str
    headers: dict[bytes, bytes | None]
    refused: bool = False
    writes_refused: bool = False


HEADER_CASES = [
    HeaderCase("no Authorization", {b"authorization": None}, refused=True),
    HeaderCase("Authorization: Basic", {b"authorization": b"Basic dXNlcjpwYXNz"}, refused=True),
    HeaderCase("empty Bearer", {b"authorization": b"Bearer "}, refused=True),
    HeaderCase("unknown key", {b"authorization": b"Bearer hr_" + b"0" * 40}, refused=True),
    HeaderCase("64 KiB Bearer", {b"authorization": b"Bearer " + b"x" * 65536}, refused=True),
    HeaderCase("invalid UTF-8 Bearer", {b"authorization": b"Bearer \xff\xfe"}, refused=True),
    HeaderCase("NUL in Bearer", {b"authorization": b"Bearer hr_\x00abc"}, refused=True),
    HeaderCase(
        "garbage session cookie",
        {b"authorization": None, b"cookie": b"headrace_api_key=\xff\x00"},
        refused=True,
    ),
    HeaderCase("Content-Length 10^20", {b"content-length": b"1" + b"0" * 20}),
    HeaderCase("Content-Length -1", {b"content-length": b"-1"}),
    HeaderCase("Content-Length not a number", {b"content-length": b"lots"}),
    HeaderCase("Content-Type invalid UTF-8", {b"content-type": b"application/json; charset=\xff"}),
    HeaderCase("Content-Type absurd", {b"content-type": b"x" * 10_000}),
    HeaderCase("X-Request-Id of 10k", {b"x-request-id": b"r" * 10_000}),
    HeaderCase("X-Request-Id invalid UTF-8", {b"x-request-id": b"\xff\xfe\r"}),
    HeaderCase("Idempotency-Key of 10k", {b"idempotency-key": b"k" * 10_000}),
    HeaderCase("Idempotency-Key with NUL", {b"idempotency-key": b"k\x00"}),
    HeaderCase("Accept absurd", {b"accept": b"text/html" + b";q=0.1" * 2000}),
    HeaderCase("no Host", {b"host": None}),
    HeaderCase("Host of 10k", {b"host": b"h" * 10_000}),
    HeaderCase("Host invalid UTF-8", {b"host": b"\xff\xfe:4200"}),
    HeaderCase("Host with a bad port", {b"host": b"127.0.0.1:99999999999"}),
    # What a page of another site makes the browser send (docs/security.md).
    HeaderCase("foreign Origin", {b"origin": b"https://evil.example"}, writes_refused=True),
    HeaderCase("Origin: null", {b"origin": b"null"}, writes_refused=True),
    HeaderCase("foreign Referer", {b"referer": b"https://evil.example/page"}, writes_refused=True),
    HeaderCase("foreign Host", {b"host": b"rebound.evil.example"}, refused=True),
]


def with_headers(replaced: dict[bytes, bytes | None]) -> list[tuple[bytes, bytes]]:
    headers = dict(WELL_FORMED)
    headers.update(replaced)
    return [(k, v) for k, v in headers.items() if v is not None]


def header_cases(endpoints: list[Endpoint], needs_key: set[Endpoint]) -> list[Case]:
    cases = []
    for endpoint in endpoints:
        for header in HEADER_CASES:
            cases.append(
                Case(
                    endpoint,
                    header.what,
                    request(
                        endpoint,
                        headers=with_headers(header.headers),
                        body=b"{}" if endpoint.reads_body else b"",
                    ),
                    refused=(header.refused and endpoint in needs_key)
                    or (header.writes_refused and endpoint.method not in SAFE_METHODS),
                )
            )
    return cases


def endpoints_needing_a_key(app: InProcessTransport, endpoints: list[Endpoint]) -> set[Endpoint]:
    """The routes that answer 401 to a request without any key (the rest are public)."""
    needing = set()
    for endpoint in endpoints:
        answer = app.call_raw(
            RawRequest(endpoint.method, endpoint.target(), [HOST, JSON_TYPE]), DEADLINE_SECONDS
        )
        if answer.status == 401:
            needing.add(endpoint)
    return needing


# -- the tests ------------------------------------------------------------------------------


def test_every_route_is_walked(hostile_app: InProcessTransport) -> None:
    endpoints = app_endpoints(hostile_app.app)
    api = {(r.method, API_PREFIX + r.path) for r in all_routes()}
    walked = {(e.method, e.path) for e in endpoints}
    assert api <= walked
    assert ("GET", "/static/{file_path}") in walked and ("GET", "/api/events") in walked


def test_bad_bodies_are_refused_with_a_message(hostile_app: InProcessTransport) -> None:
    endpoints = app_endpoints(hostile_app.app)
    send_all(hostile_app, body_cases(endpoints)).assert_none()


def test_bad_path_parameters_are_refused_with_a_message(hostile_app: InProcessTransport) -> None:
    endpoints = app_endpoints(hostile_app.app)
    send_all(hostile_app, path_cases(endpoints)).assert_none()


def test_bad_query_parameters_are_refused_with_a_message(hostile_app: InProcessTransport) -> None:
    endpoints = app_endpoints(hostile_app.app)
    send_all(hostile_app, query_cases(endpoints)).assert_none()


def test_bad_headers_are_refused_with_a_message(hostile_app: InProcessTransport) -> None:
    endpoints = app_endpoints(hostile_app.app)
    needs_key = endpoints_needing_a_key(hostile_app, endpoints)
    assert len(needs_key) > len(endpoints) // 2
    send_all(hostile_app, header_cases(endpoints, needs_key)).assert_none()


def test_the_event_stream_refuses_a_malformed_run_id(hostile_app: InProcessTransport) -> None:
    """It streamed forever, waiting for events of a run no id could match."""
    for value in (b"not-a-uuid", b"%00", b"x" * 10_000):
        answer = hostile_app.call_raw(
            RawRequest("GET", b"/api/events?flow_run=" + value, [HOST, AUTH]), DEADLINE_SECONDS
        )
        assert answer.status == 422 and answer.complete, answer
        assert b"query.flow_run" in answer.body
    good = str(uuid.uuid4()).encode()
    stream = hostile_app.call_raw(
        RawRequest("GET", b"/api/events?flow_run=" + good, [HOST, AUTH]), DEADLINE_SECONDS
    )
    assert stream.status == 200 and not stream.complete
