"""Client times the server cannot trust: they are replaced or refused, and what is stored stays
readable. `9999-12-31T23:59:59-14:00` is year 10000 in UTC, past what Python's datetime holds.
Also: a task run batch that reports one task run twice is refused, not a 500."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from headrace_service.loops import retention
from tests.api.conftest import Sql
from tests.api.test_retention import retain

POISON = "9999-12-31T23:59:59-14:00"
EPOCH = "1970-01-01T00:00:00Z"


def new_run(http: httpx.Client) -> str:
    created = http.post("/flow_runs", json={"flow_name": "clocks"})
    assert created.status_code == 201, created.text
    run_id: str = created.json()["id"]
    return run_id


def log_line(run_id: str, when: str, message: str) -> dict[str, object]:
    return {"flow_run_id": run_id, "level": 20, "name": "t", "message": message, "timestamp": when}


def task_run(run_id: str, when: str, key: str) -> dict[str, object]:
    state = {"id": str(uuid.uuid4()), "type": "COMPLETED", "name": "Completed", "timestamp": when}
    return {
        "id": str(uuid.uuid4()),
        "flow_run_id": run_id,
        "name": "poisoned",
        "task_key": "poisoned",
        "dynamic_key": key,
        "start_time": when,
        "end_time": when,
        "states": [state],
    }


def assert_readable(http: httpx.Client, run_id: str) -> tuple[list[dict], list[dict]]:
    """The run's logs, task runs and dashboard page answer 200; returns logs and task runs."""
    logs = http.get(f"/flow_runs/{run_id}/logs")
    assert logs.status_code == 200, logs.text
    tasks = http.get(f"/flow_runs/{run_id}/task_runs")
    assert tasks.status_code == 200, tasks.text
    for task in tasks.json():
        assert http.get(f"/task_runs/{task['id']}").status_code == 200
    assert http.get(f"/flow_runs/{run_id}").status_code == 200
    root = str(http.base_url).removesuffix("/api/").removesuffix("/api")
    for page in (f"/runs/{run_id}", f"/runs/{run_id}?part=live", "/runs", "/"):
        answer = httpx.get(root + page, timeout=15)
        assert answer.status_code == 200, (page, answer.text[:500])
    return logs.json()["items"], tasks.json()


def test_implausible_client_times_become_the_time_the_server_received_them(
    http: httpx.Client,
) -> None:
    run_id = new_run(http)
    before = datetime.now(UTC)
    sent = http.post(
        "/logs",
        json={"logs": [log_line(run_id, POISON, "future"), log_line(run_id, EPOCH, "past")]},
    )
    assert sent.status_code == 201, sent.text
    reported = http.post(
        "/task_runs/batch",
        json={"task_runs": [task_run(run_id, POISON, "0"), task_run(run_id, EPOCH, "1")]},
    )
    assert reported.status_code < 300, reported.text
    after = datetime.now(UTC)

    logs, tasks = assert_readable(http, run_id)
    assert [line["message"] for line in logs] == ["future", "past"]
    times = [datetime.fromisoformat(line["timestamp"]) for line in logs]
    for task in tasks:
        times += [datetime.fromisoformat(task[k]) for k in ("start_time", "end_time")]
        times.append(datetime.fromisoformat(task["state_timestamp"]))
    assert len(times) == 8 and all(before <= t <= after for t in times), times


def test_a_time_a_client_asks_for_must_be_one_it_can_read_back(http: httpx.Client) -> None:
    assert http.post("/work_pools", json={"name": "far", "type": "process"}).is_success
    deployment = http.post(
        "/deployments",
        json={
            "flow_name": "clocks",
            "name": "far",
            "entrypoint": "f.py:f",
            "path": "/tmp",
            "work_pool_name": "far",
        },
    ).json()
    refused = http.post(f"/deployments/{deployment['id']}/runs", json={"scheduled_time": POISON})
    assert refused.status_code == 422
    assert "scheduled_time" in refused.text and "9999" in refused.text
    schedule = {"schedule": {"interval": 60, "anchor_date": POISON}}
    refused = http.post(f"/deployments/{deployment['id']}/schedules", json=schedule)
    assert refused.status_code == 422 and "anchor_date" in refused.text


def test_rows_stored_with_times_python_cannot_hold_are_still_readable(
    http: httpx.Client, sql: Sql
) -> None:
    run_id = new_run(http)
    extremes = ["10000-01-01T13:59:59Z", "infinity", "-infinity", "0044-03-15 12:00:00+00 BC"]
    for when in extremes:
        sql.execute(
            "INSERT INTO log (flow_run_id, level, name, message, timestamp) "
            "VALUES (:run, 20, 'l', 'm', CAST(:t AS timestamptz))",
            run=run_id,
            t=when,
        )
        sql.execute(
            "INSERT INTO task_run (id, flow_run_id, name, task_key, dynamic_key, state_type, "
            "state_name, state_timestamp, start_time, end_time) "
            "VALUES (gen_random_uuid(), :run, 't', 'k', CAST(:t AS text), 'COMPLETED', "
            "'Completed', CAST(:t AS timestamptz), CAST(:t AS timestamptz), "
            "CAST(:t AS timestamptz))",
            run=run_id,
            t=when,
        )
    logs, tasks = assert_readable(http, run_id)
    assert [line["timestamp"][:4] for line in logs] == ["9999", "9999", "0001", "0001"]
    assert len(tasks) == 4


def test_retention_goes_by_receive_time_not_by_a_slow_client_clock(
    http: httpx.Client, database_url: str
) -> None:
    run_id = new_run(http)
    month_ago = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    sent = http.post("/logs", json={"logs": [log_line(run_id, month_ago, "fresh, slow clock")]})
    assert sent.status_code == 201, sent.text

    policy = retention.RetentionPolicy(logs_days=30)
    assert retain(database_url, datetime.now(UTC), policy).logs_deleted == 0
    kept = http.get(f"/flow_runs/{run_id}/logs").json()["items"]
    assert [line["message"] for line in kept] == ["fresh, slow clock"]
    assert kept[0]["timestamp"].startswith(month_ago[:10])  # the client's time is still shown


def test_a_task_run_reported_twice_in_one_batch_is_refused_by_name(http: httpx.Client) -> None:
    run_id = new_run(http)
    now = datetime.now(UTC).isoformat()
    report = task_run(run_id, now, "1")
    refused = http.post("/task_runs/batch", json={"task_runs": [report, report]})
    assert refused.status_code == 422, refused.text
    assert "reported twice in this batch" in refused.text
    assert http.get(f"/flow_runs/{run_id}/task_runs").json() == []
