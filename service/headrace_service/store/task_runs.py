"""Task runs: batch upsert of what the SDK reports, and reads."""

from __future__ import annotations

import json
import uuid

from headrace.schemas.task_runs import TaskRunReport
from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def task_runs_upsert(conn: AsyncConnection, reports: list[TaskRunReport]) -> int:
    """Insert or update task runs and append their new states; replays change nothing twice."""
    if not reports:
        return 0
    run_rows = []
    state_rows: list[dict[str, object]] = []
    for report in reports:
        latest = max(report.states, key=lambda s: s.timestamp) if report.states else None
        run_rows.append(
            {
                "id": report.id,
                "flow_run_id": report.flow_run_id,
                "name": report.name,
                "task_key": report.task_key,
                "dynamic_key": report.dynamic_key,
                "tags": report.tags,
                "run_count": report.run_count,
                "state_type": latest.type.value if latest else "PENDING",
                "state_name": latest.name if latest else "Pending",
                "state_message": latest.message if latest else None,
                "state_timestamp": latest.timestamp if latest else None,
                "start_time": report.start_time,
                "end_time": report.end_time,
                "task_inputs": json.dumps(
                    {k: [{"id": str(i.id)} for i in v] for k, v in report.task_inputs.items()}
                ),
                "cache_key": report.cache_key,
            }
        )
        state_rows.extend(
            {
                "id": state.id,
                "task_run_id": report.id,
                "type": state.type.value,
                "name": state.name,
                "message": state.message,
                "timestamp": state.timestamp,
                "data": json.dumps(state.data) if state.data is not None else None,
            }
            for state in report.states
        )
    await conn.execute(
        text(
            """
            INSERT INTO task_run (id, flow_run_id, name, task_key, dynamic_key, tags, run_count,
                state_type, state_name, state_message, state_timestamp, start_time, end_time,
                task_inputs, cache_key)
            VALUES (:id, :flow_run_id, :name, :task_key, :dynamic_key, :tags, :run_count,
                CAST(:state_type AS state_type), :state_name, :state_message,
                coalesce(:state_timestamp, now()),
                :start_time, :end_time, CAST(:task_inputs AS jsonb), :cache_key)
            ON CONFLICT (id) DO UPDATE SET
                run_count = greatest(task_run.run_count, EXCLUDED.run_count),
                start_time = coalesce(task_run.start_time, EXCLUDED.start_time),
                end_time = coalesce(EXCLUDED.end_time, task_run.end_time),
                task_inputs = EXCLUDED.task_inputs,
                cache_key = coalesce(EXCLUDED.cache_key, task_run.cache_key),
                tags = EXCLUDED.tags,
                -- Batches may arrive out of order: only a newer state moves the run.
                state_type = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_type ELSE task_run.state_type END,
                state_name = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_name ELSE task_run.state_name END,
                state_message = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_message ELSE task_run.state_message END,
                state_timestamp = greatest(task_run.state_timestamp, EXCLUDED.state_timestamp)
            """
        ),
        run_rows,
    )
    if state_rows:
        await conn.execute(
            text(
                """
                INSERT INTO task_run_state (id, task_run_id, type, name, message, timestamp, data)
                VALUES (:id, :task_run_id, CAST(:type AS state_type), :name, :message, :timestamp,
                        CAST(:data AS jsonb))
                ON CONFLICT (id) DO NOTHING
                """
            ),
            state_rows,
        )
    return len(reports)


async def task_runs_of_flow_run(conn: AsyncConnection, run_id: uuid.UUID) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    "SELECT * FROM task_run WHERE flow_run_id = :id "
                    "ORDER BY coalesce(start_time, created), created, id"
                ),
                {"id": run_id},
            )
        ).mappings()
    )


async def task_run_get(conn: AsyncConnection, task_run_id: uuid.UUID) -> RowMapping | None:
    return (
        (await conn.execute(text("SELECT * FROM task_run WHERE id = :id"), {"id": task_run_id}))
        .mappings()
        .first()
    )


async def task_run_states(conn: AsyncConnection, task_run_id: uuid.UUID) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text("SELECT * FROM task_run_state WHERE task_run_id = :id ORDER BY timestamp, id"),
                {"id": task_run_id},
            )
        ).mappings()
    )
