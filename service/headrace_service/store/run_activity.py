"""NOTIFY for what happens inside a flow run: task-run upserts and log lines.

Why here and not in queue/: these statements write no queue state (a task run or a log line
never makes a flow run claimable, finished or late); they only tell live run pages that there
is something new to read. They sit beside the store code that inserts the rows so that every
ingest statement and its announcement change together.

Why a channel of its own: `GET /flow_runs/{id}/wait` listens to `headrace_flow_run` (claim
long-polls to `headrace_work_pool`) and would wake (and re-query) on every log batch otherwise.
The notifier LISTENs on every channel over its one connection and hands this one only to the SSE
streams of run pages.

One NOTIFY per ingest statement, not per row, and only ids travel: the distinct flow runs the
batch touched. A batch touching more runs than fit comfortably in a payload (8000 bytes at most)
says `flow_run_ids: null`, "any run": every open run page re-reads what is new, which is cheap
because it reads only lines after the last one it has.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

RUN_ACTIVITY_CHANNEL = "headrace_run_activity"
MAX_IDS_PER_NOTIFY = 100  # 100 ids of 39 bytes stay well under the 8000-byte payload limit

ActivityKind = Literal["task_runs", "logs", "events"]


def run_activity_payload(kind: ActivityKind, flow_run_ids: Iterable[uuid.UUID]) -> str:
    ids = sorted({str(i) for i in flow_run_ids})
    listed = ids if len(ids) <= MAX_IDS_PER_NOTIFY else None
    return json.dumps({"kind": kind, "flow_run_ids": listed}, separators=(",", ":"))


async def run_activity_announce(
    conn: AsyncConnection, kind: ActivityKind, flow_run_ids: Iterable[uuid.UUID]
) -> None:
    """NOTIFY (delivered at commit, so readers see the rows when they hear of them)."""
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": RUN_ACTIVITY_CHANNEL, "payload": run_activity_payload(kind, flow_run_ids)},
    )


def run_activity_params(kind: ActivityKind) -> dict[str, object]:
    """The parameters `run_activity_notify` uses."""
    return {"activity_channel": RUN_ACTIVITY_CHANNEL, "activity_kind": kind}


def run_activity_notify(ids_from: str, where: str = "TRUE") -> str:
    """The NOTIFY of `run_activity_announce` as a SELECT inside an ingest statement (one round
    trip less): its payload names the ids of the relation `ids_from` (distinct flow run ids in
    its column `id`) in `run_activity_payload`'s order, or none when they are too many. No row
    (or `where` false): no NOTIFY. Takes the parameters of `run_activity_params`."""
    return f"""
        SELECT pg_notify(
            :activity_channel,
            json_build_object(
                'kind', CAST(:activity_kind AS text),
                'flow_run_ids',
                CASE WHEN count(*) <= {MAX_IDS_PER_NOTIFY}
                    THEN json_agg(CAST(id AS text) ORDER BY id) END
            )::text
        )
        FROM {ids_from}
        WHERE {where}
        HAVING count(*) > 0
    """
