"""A small synchronous HTTP client of the headrace API, with retries and backoff.

It accepts an httpx transport so tests can run the real SDK against the real app in-process.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from headrace.errors import ApiError, ApiUnreachable, Conflict, NotFound
from headrace.settings import client_settings

M = TypeVar("M", bound=BaseModel)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


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
        self.api_url = (api_url or settings.api_url).rstrip("/")
        key = api_key if api_key is not None else settings.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.retries = settings.client_retries if retries is None else retries
        self._http = httpx.Client(
            base_url=self.api_url,
            headers=headers,
            timeout=timeout or settings.client_timeout_seconds,
            transport=transport,
        )

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
        """Send a request; retry connection errors and 429/5xx-unavailable with backoff."""
        attempts = (self.retries if retries is None else retries) + 1
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    params=clean_params,
                    headers=headers,
                    content=content,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise ApiUnreachable(
                        f"cannot reach the headrace API at {self.api_url}: {exc}"
                    ) from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    _raise_for_status(response)
                    return response
                retry_after = response.headers.get("Retry-After")
                if retry_after and retry_after.isdigit():
                    time.sleep(min(float(retry_after), 10.0))
                    continue
            time.sleep(min(0.2 * 2**attempt, 5.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, model: type[M], **kwargs: Any) -> M:
        return model.model_validate(self.request("GET", path, **kwargs).json())

    def post(self, path: str, model: type[M], body: BaseModel | dict[str, Any], **kwargs: Any) -> M:
        payload = (
            body.model_dump(mode="json", exclude_unset=False)
            if isinstance(body, BaseModel)
            else body
        )
        return model.model_validate(self.request("POST", path, json=payload, **kwargs).json())

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def health(self) -> bool:
        try:
            self.request("GET", "/health", retries=0, timeout=2.0)
        except (ApiUnreachable, ApiError):
            return False
        return True

    @staticmethod
    def path_id(value: uuid.UUID | str) -> str:
        return str(value)


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    message = _detail_text(detail) if detail is not None else (response.text[:500] or "error")
    if response.status_code == 404:
        raise NotFound(404, message)
    if response.status_code == 409:
        raise Conflict(409, message)
    raise ApiError(response.status_code, message)


def _detail_text(detail: Any) -> str:
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
