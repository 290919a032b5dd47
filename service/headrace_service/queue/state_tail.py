"""The one tail every statement that changes a flow run's state ends in: history, outbox, NOTIFY.

A statement lists what it changed in a CTE named `state_changes`, one row per change:

    flow_run_id, work_pool_id, old_type, old_name, new_type, new_name, message, occurred

(`old_type` and `old_name` NULL for a new run; `changes_from` writes that SELECT for a CTE of
changed rows), then appends `state_tail()`. The tail adds three CTEs to the same statement, so
it costs no round trip:

- `state_events`: each change and its payload. Every change is announced on FLOW_RUN_CHANNEL
  (live pages and run waiters); a change that may wake a worker's long poll in a pool (a run
  became claimable, a slot was freed, a cancellation asked) also on WORK_POOL_CHANNEL.
- `state_history`: a `flow_run_state` row per change (`RETURNING *`, for a caller that answers
  with it);
- `state_outbox`: an `event_outbox` row per change, carrying the payload of its NOTIFY.

A row whose type and name did not change (the reaper freeing a run held for an in-process
retry: same state, no holder) is not a state change: it is announced, not recorded.

NOTIFY is delivered at commit, so a listener that hears of a change reads it committed.
"""

from __future__ import annotations

from headrace._state_types import TERMINAL_TYPES, StateType
from headrace_service.models import sql_in

# Every state change: `{"id", "state_type", "work_pool_id"}` (what the dashboard's SSE streams
# pass on), ids only, so the payload stays far below NOTIFY's 8000-byte limit.
FLOW_RUN_CHANNEL = "headrace_flow_run"
# What wakes the long polls of a pool's workers: `{"work_pool_id", "state_type"}`. Postgres
# drops a NOTIFY identical to one already sent in the transaction, so a statement that
# changes a thousand runs of a pool wakes each waiting claim once, not a thousand times.
WORK_POOL_CHANNEL = "headrace_work_pool"

# A run became claimable (SCHEDULED) or freed a concurrency slot (it finished).
CLAIM_WAKING_TYPES = frozenset({StateType.SCHEDULED} | TERMINAL_TYPES)
# A worker is asked to stop a run it holds.
CANCEL_WAKING_TYPES = frozenset({StateType.CANCELLING})
_WORKER_WAKING_SQL = sql_in(CLAIM_WAKING_TYPES | CANCEL_WAKING_TYPES)


def changes_from(rows: str, *, old_type: str = "old_type", old_name: str = "old_name") -> str:
    """The `state_changes` columns of `rows`, a CTE of flow_run rows as their change left them
    (`RETURNING fr.*` plus the state they left, `old_type` and `old_name` by default)."""
    return f"""
    SELECT id AS flow_run_id, work_pool_id, {old_type} AS old_type, {old_name} AS old_name,
           state_type AS new_type, state_name AS new_name, state_message AS message,
           state_timestamp AS occurred
    FROM {rows}"""


def state_tail(*, data: str = "NULL", reported_by: str = "NULL") -> str:
    """The CTEs that record and announce the rows of `state_changes` (see the module's doc).

    `data` and `reported_by`: SQL for the history rows' `data` and `reported_by_worker_id`.
    """
    return f"""
, state_events AS MATERIALIZED (
    -- MATERIALIZED and read whole by both inserts below: each NOTIFY is sent exactly once.
    SELECT c.*,
        (c.old_type, c.old_name) IS DISTINCT FROM (c.new_type, c.new_name) AS recorded,
        e.payload,
        pg_notify('{FLOW_RUN_CHANNEL}', e.payload::text) AS announced,
        CASE WHEN c.work_pool_id IS NOT NULL AND c.new_type IN {_WORKER_WAKING_SQL}
            THEN pg_notify('{WORK_POOL_CHANNEL}', jsonb_build_object(
                'work_pool_id', c.work_pool_id, 'state_type', c.new_type)::text)
        END AS woke
    FROM state_changes c,
        LATERAL (SELECT jsonb_build_object(
            'id', c.flow_run_id, 'state_type', c.new_type, 'work_pool_id', c.work_pool_id
        ) AS payload) e
), state_history AS (
    INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp, data,
                                reported_by_worker_id)
    SELECT flow_run_id, new_type, new_name, message, occurred, {data}, {reported_by}
    FROM state_events WHERE recorded
    RETURNING *
), state_outbox AS (
    INSERT INTO event_outbox (occurred, flow_run_id, old_state_type, old_state_name,
                              new_state_type, new_state_name, payload)
    SELECT occurred, flow_run_id, old_type, old_name, new_type, new_name, payload
    FROM state_events WHERE recorded
)
"""
