"""Creating a run of a deployment: the one path for the API's run requests and automations."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace._state_types import StateType
from headrace.schemas.deployments import DeploymentRunCreate
from headrace.schemas.work_pools import DEFAULT_QUEUE
from headrace_service import queue
from headrace_service.errors import ConflictError
from headrace_service.names import friendly_name
from headrace_service.parameter_schema import check_parameters
from headrace_service.run_keys import run_key
from headrace_service.store import deployments as store
from headrace_service.store import work_pools as pools


async def enqueue_deployment_run(
    conn: AsyncConnection, deployment: RowMapping, body: DeploymentRunCreate, key: str | None
) -> uuid.UUID:
    """Merge and check the parameters, then enqueue the run SCHEDULED in the deployment's queue;
    the id of the run (the existing one when `key` was used before).

    A paused deployment still takes runs asked for explicitly: pausing stops its schedules.
    """
    if key is not None:
        existing = await store.flow_run_id_by_idempotency_key(conn, key)
        if existing is not None:
            return existing
    if deployment["work_pool_id"] is None:
        raise ConflictError(
            f"deployment {deployment['flow_name']}/{deployment['name']} has no work pool (it was "
            "deleted); deploy it again with --pool"
        )
    parameters = {**deployment["parameters"], **body.parameters}
    check_parameters(deployment["parameter_schema"], parameters)
    concurrency_key = run_key(deployment["concurrency_key"], parameters)
    queue_id, priority = deployment["work_queue_id"], deployment["queue_priority"]
    if queue_id is None:  # its queue was deleted: the pool's default one
        default = await pools.work_queue_require(
            conn, deployment["work_pool_id"], deployment["work_pool_name"], DEFAULT_QUEUE
        )
        queue_id, priority = default["id"], default["priority"]
    row = await queue.flow_run_create(
        conn,
        flow_id=deployment["flow_id"],
        name=body.name or friendly_name(),
        state_type=StateType.SCHEDULED,
        state_name="Scheduled",
        state_message=None,
        parameters=parameters,
        tags=list(dict.fromkeys([*deployment["tags"], *body.tags])),
        max_retries=deployment["max_retries"],
        retry_delay_seconds=deployment["retry_delay_seconds"],
        deployment_id=deployment["id"],
        work_pool_id=deployment["work_pool_id"],
        work_queue_id=queue_id,
        priority=priority,
        scheduled_time=body.scheduled_time,
        idempotency_key=key,
        concurrency_key=concurrency_key,
    )
    if row is None:  # the same key won a race with us a moment ago
        assert key is not None
        existing = await store.flow_run_id_by_idempotency_key(conn, key)
        assert existing is not None
        return existing
    return uuid.UUID(str(row["id"]))
