"""What a flow run's new state implies for the rest of its row, written once.

Every statement of this package that moves runs to a state builds its SET list (or the values
of a new run) here, so `end_time`, `next_scheduled_start_time`, `worker_id` and
`lease_expires_at` follow from the new state type the same way everywhere, and keep the CHECK
constraints of `flow_run` (models.py) true:

- `end_time` is the change's time if the new state is terminal, else NULL;
- `next_scheduled_start_time` is set if and only if the new state is SCHEDULED;
- a terminal run, a run sent back to SCHEDULED, and a Suspended run (a PAUSED state named
  Suspended: its process exited, a worker takes it again once resumed) hold no worker and no
  lease (except an in-process retry: the holder keeps a run it will retry itself); any other
  state keeps its holder, whose lease the statement renews or keeps.

Arguments are SQL expressions (a column, a bound parameter, a CASE); the statement binds `:now`.
"""

from __future__ import annotations

from headrace_service.models import TERMINAL_SQL

NOW = "coalesce(:now, now())"
# The name of a PAUSED state whose process exited (suspend_flow_run).
SUSPENDED = "Suspended"


def new_run_columns(state_type: str, next_start: str, at: str = NOW) -> dict[str, str]:
    """The columns that follow from a state `state_type` entered `at`, by name: their values."""
    return {
        "end_time": f"CASE WHEN {state_type} IN {TERMINAL_SQL} THEN {at} END",
        "next_scheduled_start_time": f"CASE WHEN {state_type} = 'SCHEDULED' THEN {next_start} END",
    }


def state_set(
    state_type: str,
    name: str,
    message: str,
    *,
    next_start: str = "next_scheduled_start_time",
    holder: str = "worker_id",
    lease: str = "lease_expires_at",
    keeps_holder: str = "false",
    timestamp: str = NOW,
) -> str:
    """The SET list of an UPDATE of flow_run moving rows to `state_type` (named `name`).

    `next_start`: when a SCHEDULED run is due. `holder` and `lease`: the worker and lease of a
    run that stays held (default: unchanged). `keeps_holder`: true when a run sent back to
    SCHEDULED stays its holder's (an in-process retry).
    """
    frees = (
        f"({state_type} IN {TERMINAL_SQL} OR ({state_type} = 'SCHEDULED' AND NOT {keeps_holder})"
        f" OR ({state_type} = 'PAUSED' AND {name} = '{SUSPENDED}'))"
    )
    columns = {
        "state_type": state_type,
        "state_name": name,
        "state_message": message,
        "state_timestamp": timestamp,
        **new_run_columns(state_type, next_start, timestamp),
        "worker_id": f"CASE WHEN {frees} THEN NULL ELSE {holder} END",
        "lease_expires_at": f"CASE WHEN {frees} THEN NULL ELSE {lease} END",
        "updated": NOW,
    }
    return ",\n".join(f"{column} = {value}" for column, value in columns.items())
