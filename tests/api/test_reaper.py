"""Leases, the reaper, cancellation and fencing, through the real API and `reaper.run_once`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text

from headrace_service.db import Database, create_engine
from headrace_service.loops import reaper


def reap(database_url: str) -> list[Any]:
    async def once() -> list[Any]:
        db = Database(create_engine(database_url, pool_size=2, pool_timeout=10))
        try:
            return await reaper.run_once(db)
        finally:
            await db.dispose()

    return asyncio.run(once())


def claimed_run(queue_api: Any, **deployment: Any) -> tuple[str, str]:
    """(run id, worker id) of a run just claimed in pool "p"."""
    queue_api.pool("p")
    run = queue_api.run(queue_api.deploy("p", **deployment))
    worker_id = queue_api.heartbeat("p", "w1")["worker_id"]
    [claimed] = queue_api.claim("p", worker_id)
    assert claimed["flow_run"]["id"] == run["id"]
    return run["id"], worker_id


def expire_leases(sql: Any) -> None:
    sql.execute(
        "UPDATE flow_run SET lease_expires_at = now() - interval '1 second' "
        "WHERE lease_expires_at IS NOT NULL"
    )


def test_an_expired_lease_makes_the_run_crashed(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api)
    assert queue_api.set_state(run_id, "RUNNING", worker_id).status_code == 201
    assert reap(database_url) == []  # the lease is still valid
    expire_leases(sql)
    [rescued] = reap(database_url)
    assert rescued.outcome == "crash"
    run = queue_api.run_state(run_id)
    assert run["state_type"] == "CRASHED" and "lease" in run["state_message"]
    assert run["worker_id"] is None and run["lease_expires_at"] is None
    assert run["end_time"] is not None
    assert [s["type"] for s in run["states"]] == ["SCHEDULED", "PENDING", "RUNNING", "CRASHED"]


def test_a_crash_with_retries_left_is_rescheduled_and_claimable_again(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api, retries=1)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    expire_leases(sql)
    assert [r.outcome for r in reap(database_url)] == ["retry"]
    run = queue_api.run_state(run_id)
    assert (run["state_type"], run["state_name"]) == ("SCHEDULED", "AwaitingRetry")
    assert [s["name"] for s in run["states"]][-2:] == ["Crashed", "AwaitingRetry"]
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    [again] = queue_api.claim("p", other)
    assert again["flow_run"]["id"] == run_id
    queue_api.set_state(run_id, "RUNNING", other)
    expire_leases(sql)
    assert [r.outcome for r in reap(database_url)] == ["crash"]  # retries used up
    assert queue_api.run_state(run_id)["run_count"] == 2


def test_a_fenced_worker_learns_it_lost_the_run_and_is_refused(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api, retries=1)
    expire_leases(sql)
    reap(database_url)
    beat = queue_api.heartbeat("p", "w1", run_ids=[run_id])
    assert beat["lost_run_ids"] == [run_id]
    refused = queue_api.set_state(run_id, "RUNNING", worker_id)
    assert refused.status_code == 409 and "no longer holds" in refused.json()["detail"]
    # Another worker that claims it now holds it; the old one is still refused.
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    queue_api.claim("p", other)
    assert queue_api.set_state(run_id, "RUNNING", worker_id).status_code == 409
    assert queue_api.set_state(run_id, "RUNNING", other).status_code == 201


def test_a_run_the_workers_own_attempt_finished_is_not_lost_but_one_finished_by_another_is(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    # The flow process reports its final state, then exits: a heartbeat in between must not
    # call the run lost, or the worker kills a process that is only running its hooks.
    done_id, worker_id = claimed_run(queue_api)
    queue_api.set_state(done_id, "RUNNING", worker_id)
    queue_api.set_state(done_id, "COMPLETED", worker_id)
    assert queue_api.heartbeat("p", "w1", run_ids=[done_id])["lost_run_ids"] == []
    # Rescued from w1 and finished by w2: lost to w1 although it is finished.
    taken_id = queue_api.run(queue_api.deploy("p", name="retried", retries=1))["id"]
    [claimed] = queue_api.claim("p", worker_id)
    assert claimed["flow_run"]["id"] == taken_id
    expire_leases(sql)
    reap(database_url)
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    [again] = queue_api.claim("p", other)
    assert again["flow_run"]["id"] == taken_id
    queue_api.set_state(taken_id, "RUNNING", other)
    queue_api.set_state(taken_id, "COMPLETED", other)
    beat = queue_api.heartbeat("p", "w1", run_ids=[done_id, taken_id])
    assert beat["lost_run_ids"] == [taken_id]


def test_heartbeat_and_state_changes_renew_the_lease(queue_api: Any, sql: Any) -> None:
    run_id, worker_id = claimed_run(queue_api)
    sql.execute("UPDATE flow_run SET lease_expires_at = now() + interval '2 seconds'")

    def lease() -> datetime:
        return datetime.fromisoformat(queue_api.run_state(run_id)["lease_expires_at"])

    before = lease()
    beat = queue_api.heartbeat("p", "w1", run_ids=[run_id])
    assert beat["lost_run_ids"] == [] and beat["cancel_run_ids"] == []
    renewed = lease()
    assert (renewed - before).total_seconds() > 20
    sql.execute("UPDATE flow_run SET lease_expires_at = now() + interval '2 seconds'")
    queue_api.set_state(run_id, "RUNNING", worker_id)
    assert (lease() - before).total_seconds() > 20


def test_the_holders_in_process_retry_keeps_the_run(
    queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api, retries=2)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    waiting = queue_api.set_state(run_id, "SCHEDULED", worker_id, name="AwaitingRetry")
    assert waiting.status_code == 201
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    assert queue_api.claim("p", other) == []  # still the first worker's
    expire_leases(sql)
    assert [r.outcome for r in reap(database_url)] == ["release"]
    assert [c["flow_run"]["id"] for c in queue_api.claim("p", other)] == [run_id]


def test_a_run_its_holder_gives_back_is_free_for_another_worker_at_once(
    queue_api: Any,
) -> None:
    # A worker that was handed a run while stopping gives it back as Scheduled: unlike an
    # in-process retry, it will not run it, so it must not keep it until the lease expires.
    run_id, worker_id = claimed_run(queue_api)
    released = queue_api.set_state(run_id, "SCHEDULED", worker_id, message="worker stopping")
    assert released.status_code == 201
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    assert [c["flow_run"]["id"] for c in queue_api.claim("p", other)] == [run_id]


def test_only_one_reaper_runs_a_pass_at_a_time(queue_api: Any, sql: Any, database_url: str) -> None:
    run_id, _ = claimed_run(queue_api)
    expire_leases(sql)
    with sql.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": reaper.REAPER_LOCK_KEY})
        assert reap(database_url) == []
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": reaper.REAPER_LOCK_KEY})
        holder.commit()
    assert len(reap(database_url)) == 1
    assert queue_api.run_state(run_id)["state_type"] == "CRASHED"


def test_cancel_a_scheduled_run_at_once(http: httpx.Client, queue_api: Any) -> None:
    queue_api.pool("p")
    run = queue_api.run(queue_api.deploy("p"))
    cancelled = http.post(f"/flow_runs/{run['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state_type"] == "CANCELLED" and cancelled.json()["end_time"]
    again = http.post(f"/flow_runs/{run['id']}/cancel")  # cancelling twice is harmless
    assert again.status_code == 200 and again.json()["state_type"] == "CANCELLED"
    assert [s["type"] for s in queue_api.run_state(run["id"])["states"]] == [
        "SCHEDULED",
        "CANCELLED",
    ]
    assert http.post(f"/flow_runs/{uuid.uuid4()}/cancel").status_code == 404


def test_cancel_a_finished_run_is_409(http: httpx.Client, queue_api: Any) -> None:
    run_id, worker_id = claimed_run(queue_api)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    queue_api.set_state(run_id, "COMPLETED", worker_id)
    refused = http.post(f"/flow_runs/{run_id}/cancel")
    assert refused.status_code == 409 and "already finished" in refused.json()["detail"]


def test_cancel_a_claimed_run_fences_its_worker(http: httpx.Client, queue_api: Any) -> None:
    run_id, worker_id = claimed_run(queue_api)
    assert http.post(f"/flow_runs/{run_id}/cancel").json()["state_type"] == "CANCELLED"
    assert queue_api.heartbeat("p", "w1", run_ids=[run_id])["lost_run_ids"] == [run_id]
    assert queue_api.set_state(run_id, "RUNNING", worker_id).status_code == 409


def test_cancel_a_running_run_goes_through_its_worker(
    http: httpx.Client, queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    cancelling = http.post(f"/flow_runs/{run_id}/cancel").json()
    assert cancelling["state_type"] == "CANCELLING" and cancelling["worker_id"] == worker_id
    beat = queue_api.heartbeat("p", "w1", run_ids=[run_id])
    assert beat["cancel_run_ids"] == [run_id] and beat["lost_run_ids"] == []
    done = queue_api.set_state(run_id, "CANCELLED", worker_id)
    assert done.status_code == 201 and done.json()["run"]["state_type"] == "CANCELLED"


def test_a_cancelling_run_whose_worker_is_gone_ends_cancelled(
    http: httpx.Client, queue_api: Any, sql: Any, database_url: str
) -> None:
    run_id, worker_id = claimed_run(queue_api)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    http.post(f"/flow_runs/{run_id}/cancel")
    expire_leases(sql)
    assert [r.outcome for r in reap(database_url)] == ["cancel"]
    run = queue_api.run_state(run_id)
    assert run["state_type"] == "CANCELLED" and "gone" in run["state_message"]


def lease_of(http: httpx.Client, run_id: str, worker_id: str) -> httpx.Response:
    return http.get(f"/flow_runs/{run_id}/lease", params={"worker_id": worker_id})


def test_a_flow_process_asking_for_its_lease_learns_when_its_attempt_was_superseded(
    queue_api: Any, http: httpx.Client, sql: Any, database_url: str
) -> None:
    # What a worker's flow process asks every lease / 3 s (issue 20).
    run_id, worker_id = claimed_run(queue_api, retries=2)
    queue_api.set_state(run_id, "RUNNING", worker_id)
    held = lease_of(http, run_id, worker_id)
    assert held.status_code == 200, held.text
    assert held.json()["worker_id"] == worker_id and held.json()["lease_seconds"] > 0
    other = queue_api.heartbeat("p", "w2")["worker_id"]
    refused = lease_of(http, run_id, other)
    assert refused.status_code == 409
    assert (
        refused.json()["detail"] == f"the run is held by another worker ({worker_id}), not {other}"
    )
    # The lease expires (the worker froze): the run is rescued, its attempt is fenced.
    expire_leases(sql)
    assert [r.outcome for r in reap(database_url)] == ["retry"]
    expired = lease_of(http, run_id, worker_id)
    assert expired.status_code == 409
    assert "no longer holds the run (its lease expired)" in expired.json()["detail"]
    # Claimed again by the same worker: the old attempt is no longer the run's all the same.
    [again] = queue_api.claim("p", worker_id)
    assert again["flow_run"]["id"] == run_id
    reclaimed = lease_of(http, run_id, worker_id)
    assert reclaimed.status_code == 409
    assert "claimed again since this attempt started" in reclaimed.json()["detail"]
    queue_api.set_state(run_id, "RUNNING", worker_id)
    assert lease_of(http, run_id, worker_id).status_code == 200


def test_a_lease_question_with_a_bad_run_or_worker_id_says_what_to_fix(
    queue_api: Any, http: httpx.Client
) -> None:
    run_id, worker_id = claimed_run(queue_api)
    missing = lease_of(http, str(uuid.uuid4()), worker_id)
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    bad = lease_of(http, run_id, "not-a-uuid")
    assert bad.status_code == 422 and "worker_id" in bad.json()["detail"], bad.text
    none = http.get(f"/flow_runs/{run_id}/lease")
    assert none.status_code == 422 and "worker_id" in none.json()["detail"], none.text
