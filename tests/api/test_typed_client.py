"""The typed client against the real app in-process: each resource module's calls reach the
route they name, with the models the service validates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headrace.client import (
    HeadraceClient,
    deployments,
    flow_runs,
    schedules,
    work_pools,
    work_queues,
    workers,
)
from headrace.errors import Conflict, NotFound
from headrace.schemas.deployments import DeploymentCreate, DeploymentRunCreate, DeploymentUpdate
from headrace.schemas.schedules import CronSchedule, DeploymentScheduleCreate
from headrace.schemas.work_pools import (
    ClaimRequest,
    WorkerHeartbeat,
    WorkPoolCreate,
    WorkPoolUpdate,
    WorkQueueCreate,
    WorkQueueUpdate,
)
from tests.api.conftest import InProcessTransport


@pytest.fixture
def client(in_process_transport: InProcessTransport) -> Iterator[HeadraceClient]:
    with HeadraceClient("http://in-process/api", transport=in_process_transport, retries=0) as c:
        yield c


def test_a_patch_changes_only_the_fields_set(client: HeadraceClient) -> None:
    work_pools.create(
        client, WorkPoolCreate(name="night shift", type="process", concurrency_limit=2)
    )
    paused = work_pools.update(client, "night shift", WorkPoolUpdate(paused=True))
    assert paused.paused and paused.concurrency_limit == 2
    unlimited = work_pools.update(client, "night shift", WorkPoolUpdate(concurrency_limit=None))
    assert unlimited.paused and unlimited.concurrency_limit is None
    with pytest.raises(Conflict):
        work_pools.create(client, WorkPoolCreate(name="night shift", type="process"))
    replaced = work_pools.create(
        client, WorkPoolCreate(name="night shift", type="process"), overwrite=True
    )
    assert not replaced.paused

    work_queues.create(client, "night shift", WorkQueueCreate(name="urgent 1", priority=1))
    work_queues.update(client, "night shift", "urgent 1", WorkQueueUpdate(paused=True))
    queue = work_queues.read(client, "night shift", "urgent 1")
    assert queue.paused and queue.priority == 1
    names = [q.name for q in work_queues.list_queues(client, "night shift")]
    assert sorted(names) == ["default", "urgent 1"]


def test_a_deployment_is_run_claimed_and_read_back(client: HeadraceClient) -> None:
    work_pools.create(client, WorkPoolCreate(name="p", type="process"))
    deployment = deployments.create(
        client,
        DeploymentCreate(
            flow_name="etl",
            name="daily",
            entrypoint="flows/etl.py:etl",
            path="/srv/code",
            work_pool_name="p",
            parameters={"day": "2026-11-24"},
        ),
    )
    assert deployments.read_by_name(client, "etl", "daily").id == deployment.id
    deployments.update(client, deployment.id, DeploymentUpdate(paused=True))
    assert deployments.read(client, deployment.id).parameters == {"day": "2026-11-24"}

    schedule = schedules.create(
        client,
        deployment.id,
        DeploymentScheduleCreate(schedule=CronSchedule(cron="0 6 * * *"), active=False),
    )
    assert [s.id for s in schedules.of_deployment(client, deployment.id)] == [schedule.id]
    schedules.delete(client, schedule.id)
    with pytest.raises(NotFound):
        schedules.read(client, schedule.id)

    first = deployments.run_by_name(
        client, "etl", "daily", DeploymentRunCreate(), idempotency_key="build-7"
    )
    again = deployments.run_by_name(
        client, "etl", "daily", DeploymentRunCreate(), idempotency_key="build-7"
    )
    assert again.id == first.id

    worker = workers.heartbeat(client, "p", WorkerHeartbeat(name="w1"))
    [claimed] = workers.claim(client, "p", ClaimRequest(worker_id=worker.worker_id))
    assert claimed.flow_run.id == first.id and claimed.parameters == {"day": "2026-11-24"}
    assert flow_runs.read(client, first.id).state_name == "Pending"
    assert flow_runs.cancel(client, first.id).state_type.value in ("CANCELLING", "CANCELLED")
