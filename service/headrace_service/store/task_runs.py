"""Task runs: batch upsert of what the SDK reports, and reads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.task_runs import TaskRunReport
from headrace_service.store.events import TASK_RUN_EVENTS_SQL, announce_events
from headrace_service.store.run_activity import run_activity_announce


async def task_runs_upsert(
    conn: AsyncConnection, reports: list[TaskRunReport], *, announce: bool = True
) -> int:
    """Insert or update task runs and append their new states; replays change nothing twice,
    and a task run reported again by a new attempt of its flow run moves to its new state.

    Three statements whatever the batch size (free the identities, upsert the runs, append the
    states): the rows travel as one JSON document expanded by jsonb_to_recordset, which is
    several times faster than one execution per row. Then one
    NOTIFY for the whole batch tells open run pages (see run_activity).
    """
    if not reports:
        return 0
    merged: dict[uuid.UUID, TaskRunReport] = {}
    run_count: dict[uuid.UUID, int] = {}
    states: dict[uuid.UUID, dict[str, object]] = {}
    latest: dict[uuid.UUID, dict[str, object]] = {}
    for report in reports:
        # One batch may carry the same task run twice; an upsert may touch a row only once.
        merged[report.id] = report
        run_count[report.id] = max(run_count.get(report.id, 0), report.run_count)
        for state in report.states:
            row: dict[str, object] = {
                "id": str(state.id),
                "task_run_id": str(report.id),
                "type": state.type.value,
                "name": state.name,
                "message": state.message,
                "timestamp": state.timestamp.isoformat(),
                "data": state.data,
                "at": state.timestamp,
            }
            states[state.id] = row
            newest = latest.get(report.id)
            if newest is None or state.timestamp >= newest["at"]:  # type: ignore[operator]
                latest[report.id] = row
    dynamic_keys = _identities_given_up(merged.values())
    run_rows = []
    for report in merged.values():
        last = latest.get(report.id)
        run_rows.append(
            {
                "id": str(report.id),
                "flow_run_id": str(report.flow_run_id),
                "name": report.name,
                "task_key": report.task_key,
                "dynamic_key": dynamic_keys.get(report.id, report.dynamic_key),
                "tags": report.tags,
                "run_count": run_count[report.id],
                "state_type": last["type"] if last else "PENDING",
                "state_name": last["name"] if last else "Pending",
                "state_message": last["message"] if last else None,
                "state_timestamp": last["timestamp"] if last else None,
                "start_time": report.start_time.isoformat() if report.start_time else None,
                "end_time": report.end_time.isoformat() if report.end_time else None,
                "task_inputs": {
                    k: [{"id": str(i.id)} for i in v] for k, v in report.task_inputs.items()
                },
                "cache_key": report.cache_key,
            }
        )
    rows = json.dumps(run_rows)
    # A row holding one of these identities under another id (reported by an SDK that made
    # random ids) gives it up, its id appended to its dynamic key: the report is stored and
    # nothing is lost. The SDK derives ids from identities, so this updates nothing normally.
    await conn.execute(
        text(
            """
            UPDATE task_run t SET dynamic_key = t.dynamic_key || '~' || t.id::text
            FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                AS r(id uuid, flow_run_id uuid, task_key text, dynamic_key text)
            WHERE t.flow_run_id = r.flow_run_id AND t.task_key = r.task_key
                AND t.dynamic_key = r.dynamic_key AND t.id <> r.id
            """
        ),
        {"rows": rows},
    )
    await conn.execute(
        text(
            """
            INSERT INTO task_run (id, flow_run_id, name, task_key, dynamic_key, tags, run_count,
                state_type, state_name, state_message, state_timestamp, start_time, end_time,
                task_inputs, cache_key)
            SELECT r.id, r.flow_run_id, r.name, r.task_key, r.dynamic_key,
                   ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.run_count,
                   CAST(r.state_type AS state_type), r.state_name, r.state_message,
                   coalesce(r.state_timestamp, now()), r.start_time, r.end_time,
                   coalesce(r.task_inputs, '{}'::jsonb), r.cache_key
            FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
                id uuid, flow_run_id uuid, name text, task_key text, dynamic_key text,
                tags jsonb, run_count int, state_type text, state_name text,
                state_message text, state_timestamp timestamptz, start_time timestamptz,
                end_time timestamptz, task_inputs jsonb, cache_key text)
            ON CONFLICT (id) DO UPDATE SET
                -- Batches may arrive out of order: only a newer state moves the run. A newer
                -- attempt of the flow run may run it again (the same identity): run count,
                -- start and end follow the newer report.
                run_count = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.run_count
                    ELSE greatest(task_run.run_count, EXCLUDED.run_count) END,
                start_time = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN coalesce(EXCLUDED.start_time, task_run.start_time)
                    ELSE coalesce(task_run.start_time, EXCLUDED.start_time) END,
                end_time = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.end_time ELSE coalesce(task_run.end_time, EXCLUDED.end_time) END,
                task_inputs = EXCLUDED.task_inputs,
                cache_key = coalesce(EXCLUDED.cache_key, task_run.cache_key),
                tags = EXCLUDED.tags,
                state_type = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_type ELSE task_run.state_type END,
                state_name = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_name ELSE task_run.state_name END,
                state_message = CASE WHEN EXCLUDED.state_timestamp >= task_run.state_timestamp
                    THEN EXCLUDED.state_message ELSE task_run.state_message END,
                state_timestamp = greatest(task_run.state_timestamp, EXCLUDED.state_timestamp)
            """
        ),
        {"rows": rows},
    )
    if states:
        await conn.execute(
            text(
                """
                WITH stored AS (
                    INSERT INTO task_run_state (id, task_run_id, type, name, message, timestamp,
                                                data)
                    SELECT s.id, s.task_run_id, CAST(s.type AS state_type), s.name, s.message,
                           s.timestamp, s.data
                    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(
                        id uuid, task_run_id uuid, type text, name text, message text,
                        timestamp timestamptz, data jsonb)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING *
                )
                """
                + TASK_RUN_EVENTS_SQL
            ),
            {
                "rows": json.dumps(
                    [{k: v for k, v in row.items() if k != "at"} for row in states.values()]
                )
            },
        )
        await announce_events(conn)
    if announce:
        await run_activity_announce(conn, "task_runs", (r.flow_run_id for r in merged.values()))
    return len(reports)


def _identities_given_up(reports: Iterable[TaskRunReport]) -> dict[uuid.UUID, str]:
    """Task runs of one batch that share an identity under different ids: each but the last
    gives it up (its id appended to its dynamic key), as a stored row does below."""
    holders: dict[tuple[uuid.UUID, str, str], uuid.UUID] = {}
    given_up: dict[uuid.UUID, str] = {}
    for report in reports:
        identity = (report.flow_run_id, report.task_key, report.dynamic_key)
        earlier = holders.get(identity)
        if earlier is not None:
            given_up[earlier] = f"{report.dynamic_key}~{earlier}"
        holders[identity] = report.id
    return given_up


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
