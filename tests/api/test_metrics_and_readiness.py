"""GET /metrics (Prometheus) and GET /api/ready, against a live server and a real database."""

from __future__ import annotations

import random
import string
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, pool, text

from headrace_service import migrations
from headrace_service.db import sqlalchemy_url


def scrape(api_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    response = httpx.get(api_url.removesuffix("/api") + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def make_deployment(http: httpx.Client, pool_name: str) -> str:
    assert http.post("/work_pools", json={"name": pool_name, "type": "process"}).status_code < 300
    created = http.post(
        "/deployments",
        json={
            "flow_name": "etl",
            "name": "daily",
            "entrypoint": "flows.py:etl",
            "path": "/tmp",
            "work_pool_name": pool_name,
        },
    )
    assert created.status_code == 201, created.text
    deployment_id: str = created.json()["id"]
    return deployment_id


def test_metrics_report_runs_by_state_queue_depth_and_late_runs(
    http: httpx.Client, api_url: str, database_url: str
) -> None:
    deployment_id = make_deployment(http, "nightly")
    make_deployment_run = f"/deployments/{deployment_id}/runs"
    due = [http.post(make_deployment_run, json={}).json()["id"] for _ in range(3)]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert http.post(make_deployment_run, json={"scheduled_time": later}).status_code == 201
    # The late-run marker is another loop's job; here its outcome is written directly.
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE flow_run SET state_name = 'Late' WHERE id = :id"), {"id": due[0]})
    engine.dispose()

    samples = scrape(api_url)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert value("headrace_queue_depth", pool="nightly") == 3
    assert value("headrace_flow_runs_late", pool="nightly") == 1
    assert value("headrace_flow_runs_active", state_type="SCHEDULED") == 4
    assert value("headrace_flow_runs_active", state_type="RUNNING") == 0
    assert value("headrace_flow_runs_recent", state_type="SCHEDULED") == 4
    assert value("headrace_flow_runs_recent", state_type="COMPLETED") == 0
    assert ("headrace_flow_runs_active", frozenset({("state_type", "COMPLETED")})) not in samples


def test_request_latency_is_labelled_by_route_template_not_by_path(
    http: httpx.Client, api_url: str
) -> None:
    run_id = uuid.uuid4()
    assert http.get(f"/flow_runs/{run_id}").status_code == 404
    assert http.get("/no/such/endpoint").status_code == 404
    samples = scrape(api_url)
    counts = {
        dict(labels)["route"]: v
        for (name, labels), v in samples.items()
        if name == "headrace_http_request_duration_seconds_count"
    }
    assert counts["/api/flow_runs/{run_id}"] >= 1
    assert counts["unmatched"] >= 1
    assert not any(str(run_id) in route for route in counts)


def test_ready_is_503_with_the_reason_until_the_schema_is_current(
    http: httpx.Client, database_url: str
) -> None:
    migrations.downgrade(database_url, "-1")
    response = http.get("/ready")
    assert response.status_code == 503
    assert "headrace server database upgrade" in response.json()["detail"]
    assert http.get("/health").status_code == 200  # alive, just not ready

    migrations.upgrade(database_url)
    assert http.get("/ready").json() == {"status": "ready"}


def test_claims_are_counted_and_timed_per_pool(http: httpx.Client, api_url: str) -> None:
    pool_name = f"metered-{uuid.uuid4().hex[:6]}"
    deployment_id = make_deployment(http, pool_name)
    for _ in range(3):
        assert http.post(f"/deployments/{deployment_id}/runs", json={}).status_code == 201
    worker = http.post(f"/work_pools/{pool_name}/workers/heartbeat", json={"name": "w"}).json()
    claimed = http.post(
        f"/work_pools/{pool_name}/claim", json={"worker_id": worker["worker_id"], "limit": 10}
    ).json()
    assert len(claimed) == 3
    samples = scrape(api_url)
    labels = frozenset({("pool", pool_name)})
    assert samples[("headrace_claimed_runs_total", labels)] == 3
    assert samples[("headrace_claim_duration_seconds_count", labels)] == 1
    assert samples[("headrace_pickup_delay_seconds_count", labels)] == 3


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    # The scheduler loop only runs at start: a schedule made later waits, and its lag shows.
    # The reaper sweeps often: an expired lease is acted on at once.
    return {"scheduler_interval_seconds": 3600, "reaper_interval_seconds": 0.2}


def test_every_family_an_operator_watches_is_exported_with_a_plausible_value(
    http: httpx.Client, api_url: str, database_url: str
) -> None:
    pool_name = f"watched-{uuid.uuid4().hex[:6]}"
    deployment_id = make_deployment(http, pool_name)
    schedule = {"schedule": {"interval": 60}}
    assert http.post(f"/deployments/{deployment_id}/schedules", json=schedule).status_code == 201
    # As if the scheduler had stopped 90 s ago: its bookmark says this schedule needed work then.
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE deployment_schedule SET refill_at = now() - interval '90 s'"))
    engine.dispose()
    for _ in range(2):
        assert http.post(f"/deployments/{deployment_id}/runs", json={}).status_code == 201
    worker = http.post(f"/work_pools/{pool_name}/workers/heartbeat", json={"name": "w"}).json()
    claim = {"worker_id": worker["worker_id"], "limit": 1}
    assert len(http.post(f"/work_pools/{pool_name}/claim", json=claim).json()) == 1

    samples = scrape(api_url)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    # Runs by state; queue depth and late runs per pool.
    assert value("headrace_flow_runs_active", state_type="PENDING") == 1
    assert value("headrace_flow_runs_active", state_type="SCHEDULED") == 1
    assert value("headrace_queue_depth", pool=pool_name) == 1
    assert value("headrace_flow_runs_late", pool=pool_name) == 0
    # Claim latency: one claim transaction, in well under a second.
    assert value("headrace_claim_duration_seconds_count", pool=pool_name) == 1
    assert 0 < value("headrace_claim_duration_seconds_sum", pool=pool_name) < 1
    # API request latency, by route template.
    claims = value(
        "headrace_http_request_duration_seconds_count",
        method="POST",
        route="/api/work_pools/{name}/claim",
        status="200",
    )
    assert claims >= 1
    # Scheduler lag: the overdue schedule has waited about 90 s.
    assert 90 <= value("headrace_scheduler_lag_seconds") < 150
    assert value("headrace_scheduler_schedules_due") == 1
    # Reaper actions: every action exported before the first lease expires; then the claimed
    # run's worker "vanishes" (its lease expires) and the reaper loop crashes the run.
    for action in ("crash", "retry", "cancel", "release"):
        assert ("headrace_reaper_actions_total", frozenset({("action", action)})) in samples
    crashes = value("headrace_reaper_actions_total", action="crash")
    with engine.begin() as conn:
        conn.execute(text("UPDATE flow_run SET lease_expires_at = now() - interval '1 s'"))
    engine.dispose()
    deadline = time.monotonic() + 10
    while scrape(api_url)[("headrace_reaper_actions_total", frozenset({("action", "crash")}))] == (
        crashes
    ):
        assert time.monotonic() < deadline, "the reaper's action was not counted"
        time.sleep(0.1)


def test_made_up_methods_and_paths_do_not_grow_the_metrics(
    http: httpx.Client, api_url: str
) -> None:
    metrics_url = api_url.removesuffix("/api") + "/metrics"
    http.get("/flow_runs/" + str(uuid.uuid4()))  # every ordinary series exists before measuring
    http.request("BREW", "/flow_runs")
    before = len(httpx.get(metrics_url, timeout=10).content)
    rng = random.Random(20)
    for i in range(2000):
        method = "".join(rng.choices(string.ascii_uppercase, k=8))
        path = rng.choice(["/flow_runs", f"/no/such/{i}", f"/flow_runs/{uuid.uuid4()}"])
        assert http.request(method, path).status_code in (404, 405)
    after = httpx.get(metrics_url, timeout=10).text
    assert len(after.encode()) - before < 20_000, len(after.encode()) - before
    assert 'method="other"' in after
