"""The transport of the typed client: one synchronous HTTP client of the headrace API, with
retries, backoff and failover. The resource modules beside it (`flow_runs`, `work_pools`, ...)
say which path and which models each call uses; this module knows none of them.

Given the URLs of several API replicas (`HEADRACE_API_URL=http://a/api,http://b/api`), it sends
to one of them and stays with it; a connection error or a 502/503/504 moves it to the next, and
the request is retried there at once when that replica was not yet tried for this request (with
the usual backoff otherwise). The SDK, the CLI and the worker all talk through this client.

It accepts an httpx transport so tests can run the real SDK against the real app in-process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from headrace import api_tls as tls
from headrace.api_urls import parse_api_urls
from headrace.client import health
from headrace.errors import (
    ApiError,
    ApiUnreachable,
    ApiUntrusted,
    Conflict,
    NotFound,
    SettingsError,
)
from headrace.settings import client_settings

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers that say "this replica cannot serve now"; a 429 is about the caller, not the replica.
FAIL_OVER_STATUSES = frozenset({502, 503, 504})
# A replica whose host is gone never refuses the connection: give up connecting well before the
# request timeout (a long poll's), so failing over to another replica takes seconds.
CONNECT_TIMEOUT_SECONDS = 5.0

_logger = logging.getLogger("headrace.client")


class HeadraceClient:
    def __init__(
        self,
        api_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = client_settings()
        try:
            self.api_urls = parse_api_urls(api_url or settings.api_url)
        except ValueError as error:
            raise SettingsError(f"invalid HEADRACE_API_URL: {error}") from None
        # As configured (the whole list when there are several): for messages and comparisons.
        self.api_url = ",".join(self.api_urls)
        self._in_use = 0  # index in api_urls of the replica requests go to
        self._in_use_lock = threading.Lock()
        key = api_key if api_key is not None else settings.api_key
        tls.refuse_key_in_clear(self.api_urls, key, settings.allow_insecure_http)
        self.api_key = key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.retries = settings.client_retries if retries is None else retries
        self._http = httpx.Client(
            headers=headers,
            timeout=_timeout(timeout or settings.client_timeout_seconds),
            transport=transport,
            verify=tls.verify_context(self.api_urls, settings.api_ca_file),
        )

    @property
    def current_url(self) -> str:
        """The API URL requests go to now."""
        return self.api_urls[self._in_use]

    def api_url_setting(self) -> str:
        """HEADRACE_API_URL for a process this one starts: every URL, the one in use first (a
        flow process started after a failover does not try the dead replica first)."""
        return ",".join(self.api_urls[self._in_use :] + self.api_urls[: self._in_use])

    def _move_on_from(self, url: str, why: str) -> str:
        """After `url` failed: the next URL (the same one when there is only one). Threads that
        saw the same replica fail move on once, not once each."""
        with self._in_use_lock:
            if self.api_urls[self._in_use] == url and len(self.api_urls) > 1:
                self._in_use = (self._in_use + 1) % len(self.api_urls)
                _logger.warning(
                    "the headrace API at %s failed (%s); using %s", url, why, self.current_url
                )
            return self.api_urls[self._in_use]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HeadraceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """Send a request; retry connection errors and 429/5xx-unavailable with backoff, moving
        to the next API replica on connection errors and 502/503/504."""
        attempts = (self.retries if retries is None else retries) + 1
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        tried: set[str] = set()
        for attempt in range(attempts):
            url = self.current_url
            tried.add(url)
            retry_after: str | None = None
            try:
                response = self._http.request(
                    method,
                    url + path,
                    json=json,
                    params=clean_params,
                    headers=headers,
                    content=content,
                    timeout=_timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                if untrusted := tls.untrusted_certificate(exc):
                    raise ApiUntrusted(tls.untrusted_message(url, untrusted)) from None
                # Even when giving up: the caller's next request starts on the next replica.
                following = self._move_on_from(url, type(exc).__name__)
                if attempt + 1 >= attempts:
                    raise ApiUnreachable(
                        f"cannot reach the headrace API at {self.api_url}: {exc}"
                    ) from exc
            else:
                following = url
                if response.status_code in FAIL_OVER_STATUSES:
                    following = self._move_on_from(url, f"HTTP {response.status_code}")
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    _raise_for_status(response)
                    return response
                retry_after = response.headers.get("Retry-After")
            if following in tried:  # a replica not yet tried for this request is tried at once
                if retry_after and retry_after.isdigit():
                    time.sleep(min(float(retry_after), 10.0))
                else:
                    time.sleep(min(0.2 * 2**attempt, 5.0))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def stream_lines(
        self, path: str, *, params: dict[str, Any] | None = None
    ) -> Iterator[Iterator[str]]:
        """The lines of a long response (Server-Sent Events), read as they arrive, from the
        replica in use; no read timeout (the server sends a heartbeat)."""
        timeout = httpx.Timeout(CONNECT_TIMEOUT_SECONDS, read=None)
        try:
            with self._http.stream(
                "GET", self.current_url + path, params=params, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_status(response)
                yield response.iter_lines()
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the headrace API at {self.api_url}: {exc}") from exc

    def get(self, path: str, model: type[M], **kwargs: Any) -> M:
        return model.model_validate(self.request("GET", path, **kwargs).json())

    def post(self, path: str, model: type[M], body: BaseModel | dict[str, Any], **kwargs: Any) -> M:
        payload = body_json(body) if isinstance(body, BaseModel) else body
        return model.model_validate(self.request("POST", path, json=payload, **kwargs).json())

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def call(
        self,
        method: str,
        path: str,
        answer: type[M],
        body: BaseModel | None = None,
        *,
        query: BaseModel | None = None,
        patch: bool = False,
        **kwargs: Any,
    ) -> M:
        """Send `body` (only its set fields when `patch`) and read the answer as `answer`."""
        return answer.model_validate(
            self.send(method, path, body, query=query, patch=patch, **kwargs).json()
        )

    def call_list(
        self,
        method: str,
        path: str,
        answer: TypeAdapter[T],
        body: BaseModel | None = None,
        *,
        query: BaseModel | None = None,
        **kwargs: Any,
    ) -> T:
        """As `call`, for an answer that is not one model (a list of them)."""
        return answer.validate_python(self.send(method, path, body, query=query, **kwargs).json())

    def send(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        query: BaseModel | None = None,
        patch: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`request` with a model as the JSON body and a model as the query string."""
        content = None
        if body is not None:
            # Serialised by pydantic-core straight to bytes: task run batches are big.
            content = body.model_dump_json(exclude_unset=patch).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        return self.request(
            method,
            path,
            content=content,
            params=None if query is None else query.model_dump(mode="json", exclude_none=True),
            headers=headers,
            **kwargs,
        )

    def health(self) -> bool:
        """Whether an API replica answers; each is asked once, quickly; the first to answer is
        used from then on."""
        try:
            self.request("GET", health.PATH, retries=len(self.api_urls) - 1, timeout=2.0)
        except (ApiUnreachable, ApiError):
            return False
        return True


def body_json(body: BaseModel, *, patch: bool = False) -> Any:
    """A request model as JSON; a PATCH sends only the fields set (a null there clears)."""
    return body.model_dump(mode="json", exclude_unset=patch)


def segment(value: object) -> str:
    """One path segment: a name with `/` or `?` in it stays one segment."""
    return quote(str(value), safe="")


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    message = detail_text(detail) if detail is not None else (response.text[:500] or "error")
    if response.status_code == 404:
        raise NotFound(404, message)
    if response.status_code == 409:
        raise Conflict(409, message)
    raise ApiError(response.status_code, message)


def detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)
