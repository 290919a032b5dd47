"""Ending pauses nobody resumed in time: PAUSED runs whose pause expired become Failed."""

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.queue.state_columns import NOW, SUSPENDED, state_set
from headrace_service.queue.state_tail import changes_from, state_tail

PAUSE_EXPIRY_BATCH = 1000

# The expiry is in the newest PAUSED state's data (api/pauses.py writes it). A Suspended run has
# no process to end it: it fails at its expiry. A Paused run's own process fails it then (with
# its own message); only when that process is gone (killed) does this, `:grace` seconds later.
_FAIL_EXPIRED = f"""
WITH expired AS (
    SELECT fr.id, fr.state_type AS old_type, fr.state_name AS old_name FROM flow_run fr
    WHERE fr.state_type = 'PAUSED'
      AND (SELECT CAST(s.data ->> 'pause_expiration_time' AS timestamptz)
           FROM flow_run_state s WHERE s.flow_run_id = fr.id AND s.type = 'PAUSED'
           ORDER BY s.timestamp DESC, s.id DESC LIMIT 1)
          < {NOW} - CASE WHEN fr.state_name = '{SUSPENDED}' THEN interval '0'
                         ELSE make_interval(secs => :grace) END
    ORDER BY fr.id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), failed AS (
    UPDATE flow_run fr SET {
    state_set(
        "CAST('FAILED' AS state_type)",
        "'Failed'",
        f"CASE WHEN expired.old_name = '{SUSPENDED}' THEN :suspended_message "
        "ELSE :paused_message END",
    )
}
    FROM expired WHERE fr.id = expired.id
    RETURNING fr.*, expired.old_type, expired.old_name
), state_changes AS ({changes_from("failed")})
{state_tail()}
SELECT id FROM failed
"""


async def flow_run_fail_expired_pauses(
    conn: AsyncConnection, *, grace_seconds: float, now: datetime | None = None
) -> list[uuid.UUID]:
    """Fail up to a batch of PAUSED runs whose pause timed out (see above); their ids."""
    rows = await conn.execute(
        text(_FAIL_EXPIRED),
        {
            "now": now,
            "grace": grace_seconds,
            "batch": PAUSE_EXPIRY_BATCH,
            "suspended_message": "suspended and not resumed in time (its pause timed out)",
            "paused_message": "paused and not resumed in time; its process did not end the run",
        },
    )
    return list(rows.scalars())
