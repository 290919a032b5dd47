"""Helpers of the queue tests (work pools, deployments, claims) over the real HTTP API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Engine, create_engine, pool, text


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
