"""Every SQL statement that writes a flow run's state: the queue lives in the flow_run table.

Names are noun + verb (`flow_run_create`, `flow_run_set_state`) so related statements sort
together. Each takes `now` as a parameter so tests can pin the clock. Callers own the
transaction; every statement here is short and never waits on anything but row locks.

One package is their one home, a module per concern: `states` (create a run, move it between
states), `claim`, `leases` (heartbeats, the reaper's rescue), `cancel`, `scheduling` (the
scheduler's statements). Each statement that changes a state derives the run's other columns
from its new state with `state_columns` and ends in the one tail of `state_tail` (history row,
outbox row, NOTIFY). Callers import `headrace_service.queue` and call `queue.<statement>`;
nothing else in the service writes a flow run's state.
"""

from __future__ import annotations

from headrace_service.queue.cancel import (
    flow_run_cancel,
    flow_run_cancel_waiting,
    flow_run_reprioritise,
)
from headrace_service.queue.claim import (
    CLAIM_SCAN_FACTOR,
    CLAIM_SCAN_MAX,
    flow_run_claim,
    flow_run_next_start,
    work_pool_has_limits,
)
from headrace_service.queue.event_outbox import relay_outbox
from headrace_service.queue.leases import (
    RESCUE_BATCH,
    LeaseRenewal,
    Rescued,
    flow_run_cancelling_of_worker,
    flow_run_lease_get,
    flow_run_renew_leases,
    flow_run_rescue_expired,
    worker_heartbeat,
)
from headrace_service.queue.scheduling import (
    LATE_BATCH,
    ScheduledRun,
    flow_run_create_scheduled_many,
    flow_run_delete_future_auto_scheduled,
    flow_run_mark_late,
    flow_run_skip_missed,
)
from headrace_service.queue.state_tail import (
    CANCEL_WAKING_TYPES,
    CLAIM_WAKING_TYPES,
    FLOW_RUN_CHANNEL,
    WORK_POOL_CHANNEL,
)
from headrace_service.queue.states import StateChange, flow_run_create, flow_run_set_state

__all__ = [
    "CANCEL_WAKING_TYPES",
    "CLAIM_SCAN_FACTOR",
    "CLAIM_SCAN_MAX",
    "CLAIM_WAKING_TYPES",
    "FLOW_RUN_CHANNEL",
    "LATE_BATCH",
    "RESCUE_BATCH",
    "WORK_POOL_CHANNEL",
    "LeaseRenewal",
    "Rescued",
    "ScheduledRun",
    "StateChange",
    "flow_run_cancel",
    "flow_run_cancel_waiting",
    "flow_run_cancelling_of_worker",
    "flow_run_claim",
    "flow_run_create",
    "flow_run_create_scheduled_many",
    "flow_run_delete_future_auto_scheduled",
    "flow_run_lease_get",
    "flow_run_mark_late",
    "flow_run_next_start",
    "flow_run_renew_leases",
    "flow_run_reprioritise",
    "flow_run_rescue_expired",
    "flow_run_set_state",
    "flow_run_skip_missed",
    "relay_outbox",
    "work_pool_has_limits",
    "worker_heartbeat",
]
