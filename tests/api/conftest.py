"""Helpers of the queue tests (work pools, deployments, claims) over the real HTTP API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import urllib.parse
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx
import pytest
from sqlalchemy import Engine, create_engine, pool, text

T = TypeVar("T")


@dataclass
class QueueApi:
    """Short names for the calls a queue test makes; each asserts its status."""

    http: httpx.Client

    def pool(self, name: str = "pool", **body: Any) -> dict[str, Any]:
        return self._object(self.http.post("/work_pools", json={"name": name, **body}), 201)

    def queue(self, pool: str, name: str, **body: Any) -> dict[str, Any]:
        return self._object(
            self.http.post(f"/work_pools/{pool}/queues", json={"name": name, **body}), 201
        )

    def deploy(
        self, pool: str = "pool", name: str = "daily", flow: str = "etl", **body: Any
    ) -> dict[str, Any]:
        payload = {
            "flow_name": flow,
            "name": name,
            "entrypoint": "flows/etl.py:etl",
            "path": "/srv/code",
            "work_pool_name": pool,
            **body,
        }
        return self._object(self.http.post("/deployments", json=payload), 201)

    def run(self, deployment: dict[str, Any], **body: Any) -> dict[str, Any]:
        return self._object(self.http.post(f"/deployments/{deployment['id']}/runs", json=body), 201)

    def heartbeat(
        self, pool: str, name: str = "w1", run_ids: list[Any] | None = None
    ) -> dict[str, Any]:
        body = {"name": name, "run_ids": [str(r) for r in run_ids or []]}
        return self._object(self.http.post(f"/work_pools/{pool}/workers/heartbeat", json=body), 200)

    def claim(
        self, pool: str, worker_id: str, limit: int = 1, wait: float = 0
    ) -> list[dict[str, Any]]:
        body = {"worker_id": worker_id, "limit": limit, "wait_seconds": wait}
        result: list[dict[str, Any]] = self._ok(
            self.http.post(f"/work_pools/{pool}/claim", json=body, timeout=wait + 30), 200
        )
        return result

    def run_state(self, run_id: Any) -> dict[str, Any]:
        return self._object(self.http.get(f"/flow_runs/{run_id}"), 200)

    def set_state(
        self, run_id: Any, state_type: str, worker_id: Any = None, **state: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"state": {"type": state_type, **state}}
        if worker_id is not None:
            body["worker_id"] = str(worker_id)
        return self.http.post(f"/flow_runs/{run_id}/set_state", json=body)

    @staticmethod
    def _ok(response: httpx.Response, status: int) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def _object(self, response: httpx.Response, status: int) -> dict[str, Any]:
        return cast(dict[str, Any], self._ok(response, status))


class WaitingClaim:
    """A claim long-polling in a thread of its own, as a worker's claim loop waits."""

    def __init__(self, api_url: str, worker_id: str, pool: str = "p", wait: float = 10) -> None:
        self.runs: list[dict[str, Any]] = []
        self.returned = 0.0  # time.monotonic() when the claim answered
        body = {"worker_id": worker_id, "wait_seconds": wait}
        self._thread = threading.Thread(
            target=self._claim, args=(api_url, f"/work_pools/{pool}/claim", body), daemon=True
        )
        self._thread.start()

    def _claim(self, api_url: str, path: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=api_url, timeout=30) as client:
            response = client.post(path, json=body)
            self.returned = time.monotonic()
            self.runs = response.json()

    def run_ids(self, timeout: float = 15) -> list[str]:
        """The ids of the runs it took, once it answered."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the claim did not answer within {timeout}s"
        return [claimed["flow_run"]["id"] for claimed in self.runs]


@pytest.fixture
def queue_api(http: httpx.Client) -> QueueApi:
    return QueueApi(http)


@dataclass
class Sql:
    """Direct SQL on the test's database, for setting up and checking rows."""

    engine: Engine

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(text(statement), params).scalar()

    def rows(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            return list(conn.execute(text(statement), params).mappings())

    def execute(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)


@pytest.fixture
def sql(database_url: str) -> Iterator[Sql]:
    from headrace_service.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    yield Sql(engine)
    engine.dispose()


@dataclass
class RawRequest:
    method: str
    target: bytes  # path and query, percent-encoded as on the wire
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


@dataclass
class RawAnswer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False
    answered: bool = False
    seconds: float = 0.0
    # What the app raised past its own error handling, if anything.
    error: str | None = None


class InProcessTransport(httpx.BaseTransport):
    """The real app in this process, for a synchronous client: httpx's ASGITransport is
    async-only, so the app (its lifespan and every request) runs on an event loop of its own
    in a thread, and each request waits for its answer there."""

    def __init__(self, app: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        # What the lifespan yields, handed to every request as a server would.
        self._state: dict[str, Any] = {}
        self._lifespan_messages: asyncio.Queue[dict[str, Any]] | None = None
        self._lifespan: concurrent.futures.Future[None] | None = None
        self._app = app
        self._asgi = httpx.ASGITransport(app=self._with_state)

    @property
    def app(self) -> Any:
        """The app served (its route table, for tests that walk every route)."""
        return self._app

    async def _with_state(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app({**scope, "state": dict(self._state)}, receive, send)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def start(self) -> None:
        """Run the app's lifespan startup (database pools, listeners, loops)."""
        started: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def lifespan() -> None:
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self._lifespan_messages = messages
            await messages.put({"type": "lifespan.startup"})

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "lifespan.startup.complete":
                    started.set_result(None)
                elif message["type"] == "lifespan.startup.failed":
                    started.set_exception(RuntimeError(message.get("message", "startup failed")))

            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state}
            await self._app(scope, messages.get, send)

        self._lifespan = asyncio.run_coroutine_threadsafe(lifespan(), self._loop)
        started.result(timeout=60)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()

        async def answer() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return self._run(answer())

    def call_raw(self, request: RawRequest, timeout: float) -> RawAnswer:
        """One request straight into the app over ASGI, bytes as given (httpx would refuse or
        fix some: invalid UTF-8 in a header, a Content-Length that is not the body's). Returns
        when the response is complete, or when a streamed response (SSE) has sent its head and
        a first chunk; `answered` is False if neither happened within `timeout`."""
        return self._run(self._call_raw(request, timeout))

    async def _call_raw(self, request: RawRequest, timeout: float) -> RawAnswer:
        raw_path, _, query = request.target.partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            # As uvicorn does: the path percent-decoded, the raw bytes kept beside it.
            "path": urllib.parse.unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("in-process", 80),
            "state": dict(self._state),
        }
        answer = RawAnswer()
        done = asyncio.Event()
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]
                }
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")
                if not message.get("more_body", False):
                    answer.complete = True
                    done.set()
                elif answer.body:
                    done.set()  # a stream: its head and first chunk are the answer

        started = time.monotonic()
        task = asyncio.ensure_future(self._app(scope, receive, send))
        waiter = asyncio.ensure_future(done.wait())
        await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        answer.seconds = time.monotonic() - started
        answer.answered = done.is_set()
        done.set()  # a stream still running is told the client went away
        for pending in (task, waiter):
            if not pending.done():
                pending.cancel()
        raised = (await asyncio.gather(task, waiter, return_exceptions=True))[0]
        if isinstance(raised, Exception):
            answer.error = repr(raised)
        return answer

    def close(self) -> None:
        """Run the lifespan shutdown and stop the loop (the client's close calls this too)."""
        if self._lifespan is not None and self._lifespan_messages is not None:
            messages = self._lifespan_messages
            self._loop.call_soon_threadsafe(messages.put_nowait, {"type": "lifespan.shutdown"})
            self._lifespan.result(timeout=60)
            self._lifespan = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=15)


@pytest.fixture
def in_process_transport(database_url: str, tmp_path: Any) -> Iterator[InProcessTransport]:
    """The real app (as `live_server` builds it) behind an in-process transport: no socket."""
    from headrace_service.app import create_app
    from headrace_service.settings import ServerSettings

    # The in-process clients' base URL is http://in-process/api: the server must answer to it.
    settings = ServerSettings(
        home=tmp_path,
        database_url=database_url,  # type: ignore[arg-type]
        allowed_hosts="in-process",
    )
    with in_process_app(create_app(settings, database_url)) as transport:
        yield transport


@contextmanager
def in_process_app(app: Any) -> Iterator[InProcessTransport]:
    """`app` started (its lifespan run) behind an InProcessTransport, shut down on exit."""
    transport = InProcessTransport(app)
    transport.start()
    try:
        yield transport
    finally:
        transport.close()
