"""Where the engine records runs: the API (`ApiBackend`), or nowhere (`OfflineBackend`).

With no API reachable a script still runs, says so once in one line on stderr, and keeps what
must work in-process (results cache) in memory.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headrace.exceptions import Abort
from headrace.reporter import Reporter, TaskRunRecord
from headrace.states import State

if TYPE_CHECKING:
    from headrace.client import HeadraceClient

_logger = logging.getLogger("headrace.engine")

# How long the set of limited tags is trusted before it is read again.
LIMITED_TAGS_TTL_SECONDS = 5.0
# A flow run's own state changes (Running, its final state) are few and must not be lost to a
# short outage (an API restart, a failover): with the client's backoff (0.2 s doubling, capped
# at 5 s) 8 retries wait about 21 s, while the default 3 give up after 1.4 s and a run whose work
# was done ended Crashed ("exited without reporting a final state"). The worker keeps the lease
# meanwhile.
FLOW_RUN_STATE_RETRIES = 8


@dataclass
class FlowRunInfo:
    """What the engine needs to know about a flow run."""

    id: uuid.UUID
    name: str
    flow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    run_count: int = 0
    state_type: str | None = None
    deployment_id: uuid.UUID | None = None


class Backend:
    """The offline backend; `ApiBackend` overrides what the API does for real."""

    online = False
    api_url: str | None = None

    def __init__(self) -> None:
        self._results: dict[str, tuple[str, bytes, datetime | None]] = {}
        self._results_lock = threading.Lock()

    # -- flow runs: synchronous, the server may refuse ------------------------------------------

    def create_flow_run(
        self,
        *,
        flow_name: str,
        parameters: dict[str, Any],
        tags: list[str],
        parent_task_run_id: uuid.UUID | None,
        max_retries: int,
        retry_delay_seconds: float,
        state: State[Any],
    ) -> FlowRunInfo:
        run_id = uuid.uuid4()
        return FlowRunInfo(run_id, _offline_name(run_id), flow_name, parameters, tags)

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRunInfo:
        raise Abort("the headrace API is not reachable: cannot read an existing flow run")

    def read_deployment(self, deployment_id: uuid.UUID) -> dict[str, Any]:
        raise Abort("the headrace API is not reachable: cannot read a deployment")

    def set_flow_run_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> None:
        """Record a flow run's new state; raises `Abort` if the server refuses it."""

    # -- task runs and logs: buffered -----------------------------------------------------------

    def set_task_run_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        record.state = state

    def log(self, entry: dict[str, Any]) -> None:
        pass

    def flush(self) -> None:
        pass

    # -- results ------------------------------------------------------------------------------

    def read_result(self, key: str) -> tuple[str, bytes] | None:
        with self._results_lock:
            found = self._results.get(key)
        if found is None:
            return None
        serializer, data, expires_at = found
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        return serializer, data

    def write_result(
        self, key: str, serializer: str, data: bytes, expires_at: datetime | None
    ) -> None:
        with self._results_lock:
            self._results[key] = (serializer, data, expires_at)

    # -- tag concurrency limits: enforced by the API only -------------------------------------

    def limited_tags(self) -> frozenset[str]:
        return frozenset()

    def acquire_slots(self, tags: list[str], holder_id: uuid.UUID, lease_seconds: float) -> bool:
        return True

    def renew_slots(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None:
        pass

    def release_slots(self, holder_id: uuid.UUID) -> None:
        pass


OfflineBackend = Backend


class ApiBackend(Backend):
    """Records everything through the headrace API."""

    online = True

    def __init__(self, client: HeadraceClient) -> None:
        super().__init__()
        self.client = client
        self.api_url = client.api_url
        self.reporter = Reporter(self._send_task_runs, self._send_logs)
        # A script that ends (or is interrupted) outside a flow still sends what is buffered.
        atexit.register(self.reporter.close, 5.0)
        self._limited_tags: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._lost_api = False

    def create_flow_run(
        self,
        *,
        flow_name: str,
        parameters: dict[str, Any],
        tags: list[str],
        parent_task_run_id: uuid.UUID | None,
        max_retries: int,
        retry_delay_seconds: float,
        state: State[Any],
    ) -> FlowRunInfo:
        body = {
            "flow_name": flow_name,
            "parameters": parameters,
            "tags": tags,
            "parent_task_run_id": str(parent_task_run_id) if parent_task_run_id else None,
            "max_retries": max_retries,
            "retry_delay_seconds": retry_delay_seconds,
            "state": _state_body(state),
        }
        return _flow_run_info(self.client.request("POST", "/flow_runs", json=body).json())

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRunInfo:
        # The run's real parameters, SecretStr ones included (the API masks them otherwise).
        data = self.client.get_json(f"/flow_runs/{flow_run_id}", params={"reveal_secrets": "true"})
        return _flow_run_info(data)

    def read_deployment(self, deployment_id: uuid.UUID) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get_json(f"/deployments/{deployment_id}")
        return data

    def set_flow_run_state(
        self, flow_run_id: uuid.UUID, state: State[Any], *, worker_id: str | None = None
    ) -> None:
        from headrace.errors import ApiUnreachable, Conflict

        body: dict[str, Any] = {"state": _state_body(state)}
        if worker_id:
            body["worker_id"] = worker_id
        try:
            self.client.request(
                "POST",
                f"/flow_runs/{flow_run_id}/set_state",
                json=body,
                retries=max(self.client.retries, FLOW_RUN_STATE_RETRIES),
            )
        except Conflict as exc:
            raise Abort(f"the API refused the state {state.name}: {exc.detail}") from None
        except ApiUnreachable as exc:
            self._warn_lost(exc)

    def set_task_run_state(self, record: TaskRunRecord, state: State[Any]) -> None:
        self.reporter.set_state(record, state)

    def log(self, entry: dict[str, Any]) -> None:
        self.reporter.log(entry)

    def flush(self) -> None:
        if not self.reporter.flush():
            _logger.warning("some task runs or logs could not be sent to the headrace API")

    def read_result(self, key: str) -> tuple[str, bytes] | None:
        from headrace.errors import HeadraceError, NotFound

        try:
            body = self.client.get_json(f"/results/{key}", retries=1)
        except NotFound:
            return None
        except HeadraceError as exc:
            _logger.warning(
                "could not read a cached result from the API (%s); running the task", exc
            )
            return None
        return body["serializer"], base64.b64decode(body["data"])

    def write_result(
        self, key: str, serializer: str, data: bytes, expires_at: datetime | None
    ) -> None:
        body = {
            "serializer": serializer,
            "data": base64.b64encode(data).decode(),
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        self.client.request("PUT", f"/results/{key}", json=body)

    def limited_tags(self) -> frozenset[str]:
        from headrace.errors import HeadraceError

        read_at, tags = self._limited_tags
        if time.monotonic() - read_at < LIMITED_TAGS_TTL_SECONDS:
            return tags
        try:
            limits = self.client.get_json("/concurrency_limits", retries=1)
            tags = frozenset(item["tag"] for item in limits)
        except HeadraceError as exc:
            _logger.debug("could not read concurrency limits: %s", exc)
        self._limited_tags = (time.monotonic(), tags)
        return tags

    def acquire_slots(self, tags: list[str], holder_id: uuid.UUID, lease_seconds: float) -> bool:
        body = {"tags": tags, "holder_id": str(holder_id), "lease_seconds": lease_seconds}
        answer = self.client.request("POST", "/concurrency_slots/acquire", json=body).json()
        return bool(answer["acquired"])

    def renew_slots(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None:
        for holder_id in holder_ids:
            body = {"holder_id": str(holder_id), "lease_seconds": lease_seconds}
            self.client.request("POST", "/concurrency_slots/renew", json=body, retries=0)

    def release_slots(self, holder_id: uuid.UUID) -> None:
        body = {"holder_id": str(holder_id)}
        self.client.request("POST", "/concurrency_slots/release", json=body)

    def _send_task_runs(self, reports: list[dict[str, Any]]) -> None:
        self.client.request("POST", "/task_runs/batch", json={"task_runs": reports}, retries=0)

    def _send_logs(self, logs: list[dict[str, Any]]) -> None:
        self.client.request("POST", "/logs", json={"logs": logs}, retries=0)

    def _warn_lost(self, exc: Exception) -> None:
        if not self._lost_api:
            self._lost_api = True
            _logger.warning("lost the headrace API (%s); the run goes on", exc)


def _state_body(state: State[Any]) -> dict[str, Any]:
    return {
        "type": state.type.value,
        "name": state.name,
        "message": state.message,
        "timestamp": state.timestamp.isoformat(),
        "data": state.data,
    }


def _flow_run_info(body: dict[str, Any]) -> FlowRunInfo:
    deployment_id = body.get("deployment_id")
    return FlowRunInfo(
        id=uuid.UUID(body["id"]),
        name=body["name"],
        flow_name=body["flow_name"],
        parameters=body.get("parameters") or {},
        tags=body.get("tags") or [],
        run_count=body.get("run_count", 0),
        state_type=body.get("state_type"),
        deployment_id=uuid.UUID(deployment_id) if deployment_id else None,
    )


def _offline_name(run_id: uuid.UUID) -> str:
    return f"offline-{run_id.hex[:8]}"


# -- the process's backend ----------------------------------------------------------------------

_backend: Backend | None = None
_backend_lock = threading.Lock()


def current_api_url() -> str:
    """HEADRACE_API_URL, else the active profile's (or the default), trimmed as the client
    trims it (it may list several replicas)."""
    from headrace.api_urls import split_api_urls

    raw = os.environ.get("HEADRACE_API_URL")
    if raw is None:
        from headrace.settings import client_settings

        # The profile's URL with the profile's key (the client reads the key the same way):
        # never one profile's key sent to another server.
        raw = client_settings().api_url
    return ",".join(split_api_urls(raw))


def get_backend(*, require_api: bool = False) -> Backend:
    """The backend for a new top-level flow run: the API if it answers, else offline (said
    once, in one line on stderr). Follows changes of HEADRACE_API_URL (tests start servers)."""
    global _backend
    url = current_api_url()
    with _backend_lock:
        if (
            _backend is not None
            and _backend.api_url == url
            and (_backend.online or not require_api)
        ):
            return _backend
        from headrace.client import HeadraceClient

        client = HeadraceClient(url, api_key=os.environ.get("HEADRACE_API_KEY"))
        if client.health():
            _backend = ApiBackend(client)
        else:
            client.close()
            if require_api:
                raise Abort(f"cannot reach the headrace API at {url}")
            print(
                f"headrace: cannot reach the API at {url}; running without recording anything "
                "(no runs, task runs or logs are saved)",
                file=sys.stderr,
                flush=True,
            )
            _backend = OfflineBackend()
            _backend.api_url = url
        return _backend


def get_current_backend() -> Backend | None:
    """The backend in use, if a flow has run in this process (no connection attempt)."""
    return _backend


def set_backend(backend: Backend | None) -> Backend | None:
    """Use `backend` for the next flow runs (tests); returns the previous one."""
    global _backend
    with _backend_lock:
        previous, _backend = _backend, backend
        if backend is not None and backend.api_url is None:
            backend.api_url = current_api_url()
    return previous
