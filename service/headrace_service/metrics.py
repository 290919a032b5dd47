"""Prometheus metrics: the instruments the service's code updates, and `GET /metrics`.

Two kinds of metric:
- Counters and histograms below, updated by the code that does the work (the claim, the reaper,
  the scheduler, every request). Each API replica counts its own: sum them in Prometheus
  (`sum(rate(headrace_reaper_actions_total[5m]))`). Background loops run on one replica at a
  time (advisory-lock leader), so only the leader's series move.
- Gauges of the database's state (runs by state, queue depth, late runs, scheduler lag),
  computed by a cheap query when Prometheus scrapes (metrics_snapshot.py), cached for a few
  seconds so that several scrapers or replicas do not multiply the load. Every replica reports
  the same values: use `max()` across replicas, not `sum()`.
"""

from __future__ import annotations

import time
from http import HTTPStatus

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headrace_service.app_state import request_state
from headrace_service.metrics_snapshot import SnapshotCollector

# Buckets from a fast API read (a few ms) to a long-poll claim (30 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUEST_DURATION = Histogram(
    "headrace_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template (long polls include their wait).",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)

# --- updated by the queue, the reaper and the scheduler (see each helper's docstring) --------

CLAIM_DURATION = Histogram(
    "headrace_claim_duration_seconds",
    "Time of one claim transaction (select, lock, set PENDING), without the long-poll wait.",
    ["pool"],
    buckets=LATENCY_BUCKETS,
)
CLAIMED_RUNS = Counter(
    "headrace_claimed_runs_total", "Flow runs handed to a worker by a claim.", ["pool"]
)
PICKUP_DELAY = Histogram(
    "headrace_pickup_delay_seconds",
    "From a run's scheduled start time to its claim by a worker: how long due runs wait.",
    ["pool"],
    buckets=LATENCY_BUCKETS,
)
REAPER_ACTIONS = Counter(
    "headrace_reaper_actions_total",
    "Runs whose lease expired, by what the reaper did (crash, retry, cancel, release).",
    ["action"],
)
# Every action exported from the start (at 0), so that rate() and alerts see a series before
# the first lease expires.
for _action in ("crash", "retry", "cancel", "release"):
    REAPER_ACTIONS.labels(_action)
SCHEDULED_RUNS = Counter(
    "headrace_scheduler_runs_created_total", "Flow runs materialised by the scheduler."
)
LOOP_LAST_SUCCESS = Gauge(
    "headrace_loop_last_success_timestamp_seconds",
    "Unix time of the last pass of a background loop that finished without error "
    "(alert on time() - max by (loop) of this).",
    ["loop"],
)


def observe_claim(pool: str, seconds: float, runs: int) -> None:
    """Call once per claim transaction (queue: flow_run_claim), after it committed."""
    CLAIM_DURATION.labels(pool).observe(seconds)
    if runs:
        CLAIMED_RUNS.labels(pool).inc(runs)


def observe_pickup(pool: str, delays_seconds: list[float]) -> None:
    """Call with now - next_scheduled_start_time of each claimed run."""
    histogram = PICKUP_DELAY.labels(pool)
    for delay in delays_seconds:
        histogram.observe(max(0.0, delay))


def count_reaper_action(action: str, runs: int = 1) -> None:
    """Call from the reaper with the outcome of each rescued run (queue.Rescued.outcome)."""
    if runs:
        REAPER_ACTIONS.labels(action).inc(runs)


def loop_succeeded(loop: str) -> None:
    """Call at the end of a background loop's run_once (scheduler, late_runs, reaper, ...)."""
    LOOP_LAST_SUCCESS.labels(loop).set(time.time())


# --- the request latency middleware ---------------------------------------------------------


# Every label value comes from a fixed set: a client that makes up methods, paths or statuses
# must not grow /metrics by one series per request.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset(str(status.value) for status in HTTPStatus)


def method_label(method: str) -> str:
    """The request's method, or "other" for one no route of ours answers."""
    return method if method in KNOWN_METHODS else "other"


def status_label(status: int) -> str:
    """The response status, or "other" for a code HTTP does not define."""
    code = str(status)
    return code if code in KNOWN_STATUSES else "other"


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/flow_runs/{id}`): one series per route, not per id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestMetricsMiddleware:
    """Times every HTTP request by method, route template and status; streams are left out
    (an SSE connection's "latency" is how long the page stayed open)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False

        async def send_and_note_status(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers") or [])
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            if not streaming:
                HTTP_REQUEST_DURATION.labels(
                    method_label(scope["method"]), route_template(scope), status_label(status)
                ).observe(time.perf_counter() - started)


# --- GET /metrics -----------------------------------------------------------------------------


async def metrics_endpoint(request: Request) -> Response:
    """The process's instruments plus the database gauges, in Prometheus' text format.

    Guarded like the dashboard (app.py: guard_routes): a `read` key when auth is on."""
    state = request_state(request)
    snapshot = await state["metrics_snapshots"].get(state["db"])
    scrape_registry = CollectorRegistry(auto_describe=False)
    scrape_registry.register(SnapshotCollector(snapshot))
    body = generate_latest(REGISTRY) + generate_latest(scrape_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"], name="metrics")]
