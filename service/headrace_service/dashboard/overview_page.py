"""The overview: what is happening now, at a glance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from headrace_service.app_state import request_database, request_state
from headrace_service.dashboard import overview_queries as q
from headrace_service.dashboard.charts import stacked_bars
from headrace_service.dashboard.templating import render
from headrace_service.store.work_pools import work_pool_list


async def overview_page(request: Request) -> Response:
    window = q.WINDOWS.get(request.query_params.get("range", "day"), q.WINDOWS["day"])
    now = datetime.now(UTC)
    async with request_database(request).begin() as conn:
        counts = await q.state_counts(conn, window, now)
        failures = await q.recent_failures(conn, now)
        upcoming = await q.upcoming_runs(conn, now)
        late = await q.late_runs(conn, now)
        pools = await work_pool_list(
            conn, heartbeat_seconds=request_state(request)["settings"].heartbeat_seconds
        )
    bucket = timedelta(seconds=window.bucket_seconds)
    chart = stacked_bars(counts, window.buckets, now - window.span, bucket)
    return render(
        "overview.html",
        title="Overview",
        nav="overview",
        window=window,
        windows=q.WINDOWS.values(),
        chart=chart,
        failures=failures,
        upcoming=upcoming,
        late=late,
        pools=pools,
    )
