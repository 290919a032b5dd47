"""Logs: batch insert and tail reads.

Reads go in id order (the order lines arrived in, batch by batch) so a reader that passes the
last id back as `after` never misses nor repeats a line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace.schemas.common import EARLIEST_REPORTED_TIME, REPORTED_TIME_AHEAD
from headrace.schemas.logs import LogBatch, LogCreate
from headrace_service.store.run_activity import run_activity_notify, run_activity_params


@dataclass(frozen=True, slots=True)
class JsonBatch:
    """A validated batch as the client sent it: the insert needs its text and its runs, not
    its lines as Python objects (building them again as JSON cost the API as much as
    validating them, and a batch waiting for a writer kept thousands of objects alive for the
    garbage collector to walk)."""

    json: bytes  # {"logs": [...]}
    lines: int
    runs: list[uuid.UUID]

    @classmethod
    def of(cls, raw: bytes, batch: LogBatch) -> JsonBatch:
        """`raw` is the JSON `batch` was validated from."""
        runs = list({line.flow_run_id for line in batch.logs})
        if b"\\u0000" in raw:
            # PostgreSQL text cannot hold NUL: those lines are kept, with the NUL shown as `\\x00`.
            raw = b'{"logs":' + _LINES.dump_json(storable(batch.logs)) + b"}"
        return cls(raw, len(batch.logs), runs)


async def logs_insert(conn: AsyncConnection, batch: JsonBatch, *, announce: bool = True) -> int:
    """One statement for the whole batch, which travels as the JSON text it came as, expanded by
    PostgreSQL in order (an INSERT per line, or Python adapting each value, costs far more).
    Lines of unknown runs are left out; the runs of the others cannot be deleted before the
    commit (FOR KEY SHARE): log.flow_run_id has no foreign key (migration 0021), this is the
    check. The same statement announces the batch (see run_activity): a worker's flow process
    sends two batches per run, and each round trip to PostgreSQL is the API's CPU."""
    row = (
        await conn.execute(
            _INSERT,
            {
                "ids": batch.runs,
                "batch": batch.json.decode(),
                "earliest": EARLIEST_REPORTED_TIME,
                "ahead": REPORTED_TIME_AHEAD,
                "announce": announce,
                **run_activity_params("logs"),
            },
        )
    ).one()
    return batch.lines if row.kept else 0


_ANNOUNCE_IF = "CAST(:announce AS boolean) AND EXISTS (SELECT FROM inserted)"
# `known` is read once (a locking CTE is materialised); `= ANY(ARRAY(...))` filters the lines
# where they are read, so they keep their order (log ids are the order lines arrived in).
_INSERT = text(
    f"""
    WITH known AS (
        SELECT id FROM flow_run WHERE id = ANY(:ids) FOR KEY SHARE
    ), inserted AS (
        INSERT INTO log (flow_run_id, task_run_id, level, name, message, timestamp)
        SELECT flow_run_id, task_run_id, level, name, message,
            -- ReportedTime's rule (headrace.schemas.common): an implausible client time
            -- becomes the time the server received the line.
            CASE WHEN timestamp BETWEEN :earliest AND now() + :ahead THEN timestamp
                 ELSE now() END
        FROM json_to_recordset(CAST(:batch AS json) -> 'logs') AS line(
            flow_run_id uuid, task_run_id uuid, level integer, name text, message text,
            timestamp timestamptz
        )
        WHERE flow_run_id = ANY(ARRAY(SELECT id FROM known))
        RETURNING 1
    ), announced AS (
        {run_activity_notify("known", _ANNOUNCE_IF)}
    )
    SELECT EXISTS (SELECT 1 FROM inserted) AS kept, (SELECT count(*) FROM announced) AS told
    """
)


_LINES = TypeAdapter(list[LogCreate])


def storable(logs: list[LogCreate]) -> list[LogCreate]:
    """The lines with each NUL replaced by the text `\\x00`."""
    return [
        line.model_copy(update={"message": line.message.replace("\x00", "\\x00")})
        if "\x00" in line.message
        else line
        for line in logs
    ]


async def logs_of_flow_run(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    after: int | None,
    min_level: int,
    limit: int,
) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    """
                    SELECT * FROM log
                    WHERE flow_run_id = :id AND level >= :min_level
                      AND (CAST(:after AS bigint) IS NULL OR id > :after)
                    ORDER BY id
                    LIMIT :limit
                    """
                ),
                {"id": run_id, "after": after, "min_level": min_level, "limit": limit},
            )
        ).mappings()
    )
