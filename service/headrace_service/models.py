"""The database schema as SQLAlchemy Core tables: the one source Alembic compares migrations with.

Every index is named for the query that needs it. Postgres-only: enums, partial indexes, JSONB,
arrays and identity columns are used freely.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from headrace._state_types import ACTIVE_TYPES, TERMINAL_TYPES, StateType

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

STATE_TYPES = tuple(t.value for t in StateType)  # declaration order: the enum's, the charts'
state_type_enum = Enum(*STATE_TYPES, name="state_type")


def sql_in(types: Collection[StateType]) -> str:
    """A SQL list literal of state types, in declaration order: `('PENDING', 'RUNNING')`."""
    return "(" + ", ".join(f"'{t.value}'" for t in StateType if t in types) + ")"


TERMINAL_SQL = sql_in(TERMINAL_TYPES)
ACTIVE_SQL = sql_in(ACTIVE_TYPES)


def _id() -> Column[object]:
    return Column(
        "id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _run_ref() -> Column[object]:
    """The run a row belongs to; deleting the run (retention) deletes the row."""
    return Column(
        "flow_run_id",
        UUID(as_uuid=True),
        ForeignKey("flow_run.id", ondelete="CASCADE"),
        nullable=False,
    )


def _created() -> Column[object]:
    return Column("created", DateTime(timezone=True), nullable=False, server_default=text("now()"))


def _updated() -> Column[object]:
    return Column("updated", DateTime(timezone=True), nullable=False, server_default=text("now()"))


def _tags() -> Column[object]:
    return Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]"))


flow = Table(
    "flow",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    _created(),
)

work_pool = Table(
    "work_pool",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("description", Text),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("concurrency_limit", Integer),
    Column("base_job_template", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created(),
    _updated(),
)

work_queue = Table(
    "work_queue",
    metadata,
    _id(),
    Column(
        "work_pool_id",
        UUID(as_uuid=True),
        ForeignKey("work_pool.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("priority", Integer, nullable=False, server_default=text("1")),
    Column("concurrency_limit", Integer),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    _created(),
    UniqueConstraint("work_pool_id", "name", name="uq_work_queue_pool_name"),
)

worker = Table(
    "worker",
    metadata,
    _id(),
    Column(
        "work_pool_id",
        UUID(as_uuid=True),
        ForeignKey("work_pool.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("last_heartbeat", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("heartbeat_interval_seconds", Float),
    Column("status", Text, nullable=False, server_default=text("'ONLINE'")),
    # What the worker announced when it registered: its pool type plug-in and the JSON schema of
    # the job variables that plug-in reads (null when it did not say).
    Column("pool_type", Text),
    Column("job_variables_schema", JSONB),
    _created(),
    UniqueConstraint("work_pool_id", "name", name="uq_worker_pool_name"),
)

deployment = Table(
    "deployment",
    metadata,
    _id(),
    Column(
        "flow_id", UUID(as_uuid=True), ForeignKey("flow.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", Text, nullable=False),
    Column("entrypoint", Text, nullable=False),
    # Where the code comes from: {"kind": "folder", "path": ...} | git | bundle.
    Column("source", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("parameter_schema", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("work_pool_id", UUID(as_uuid=True), ForeignKey("work_pool.id", ondelete="SET NULL")),
    Column("work_queue_id", UUID(as_uuid=True), ForeignKey("work_queue.id", ondelete="SET NULL")),
    _tags(),
    Column("description", Text),
    Column("version", Text),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("concurrency_limit", Integer),
    # A jinja template over the run's parameters: concurrency_limit then counts per value.
    Column("concurrency_key", Text),
    Column("catchup", Boolean, nullable=False, server_default=text("false")),
    Column("job_variables", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # The flow's retries, copied onto each run: the reaper reschedules a crashed run with them.
    Column("max_retries", Integer, nullable=False, server_default=text("0")),
    Column("retry_delay_seconds", Float, nullable=False, server_default=text("0")),
    _created(),
    _updated(),
    UniqueConstraint("flow_id", "name", name="uq_deployment_flow_name"),
)

deployment_schedule = Table(
    "deployment_schedule",
    metadata,
    _id(),
    Column(
        "deployment_id",
        UUID(as_uuid=True),
        ForeignKey("deployment.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # {"cron": ..., "timezone": ...} | {"interval": seconds, "anchor_date": ...} | {"rrule": ...}
    Column("schedule", JSONB, nullable=False),
    Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # The scheduler's bookmark: the last fire time it turned into a run, and when this schedule
    # next needs topping up (NULL: now). Reset when the schedule changes or pauses.
    Column("materialized_until", DateTime(timezone=True)),
    Column("refill_at", DateTime(timezone=True)),
    # Why the scheduler could not compute this schedule's times (it skips it); NULL when it can.
    Column("error", Text),
    _created(),
    _updated(),
    Index("ix_deployment_schedule_deployment", "deployment_id"),
)

flow_run = Table(
    "flow_run",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column(
        "flow_id", UUID(as_uuid=True), ForeignKey("flow.id", ondelete="CASCADE"), nullable=False
    ),
    Column("deployment_id", UUID(as_uuid=True), ForeignKey("deployment.id", ondelete="SET NULL")),
    Column("work_pool_id", UUID(as_uuid=True), ForeignKey("work_pool.id", ondelete="SET NULL")),
    Column("work_queue_id", UUID(as_uuid=True), ForeignKey("work_queue.id", ondelete="SET NULL")),
    Column(
        "schedule_id", UUID(as_uuid=True), ForeignKey("deployment_schedule.id", ondelete="SET NULL")
    ),
    Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _tags(),
    Column("state_type", state_type_enum, nullable=False),
    Column("state_name", Text, nullable=False),
    Column("state_message", Text),
    Column(
        "state_timestamp", DateTime(timezone=True), nullable=False, server_default=text("now()")
    ),
    Column("run_count", Integer, nullable=False, server_default=text("0")),
    Column("max_retries", Integer, nullable=False, server_default=text("0")),
    Column("retry_delay_seconds", Float, nullable=False, server_default=text("0")),
    # Copied from the queue at enqueue time so the claim sorts without a join.
    Column("priority", Integer, nullable=False, server_default=text("1")),
    Column("expected_start_time", DateTime(timezone=True)),
    Column("next_scheduled_start_time", DateTime(timezone=True)),
    Column("start_time", DateTime(timezone=True)),
    Column("end_time", DateTime(timezone=True)),
    Column("worker_id", UUID(as_uuid=True), ForeignKey("worker.id", ondelete="SET NULL")),
    Column("lease_expires_at", DateTime(timezone=True)),
    # No foreign key: task runs arrive in batches, possibly after the child run is created.
    Column("parent_task_run_id", UUID(as_uuid=True)),
    Column("auto_scheduled", Boolean, nullable=False, server_default=text("false")),
    Column("idempotency_key", Text),
    # The deployment's concurrency key rendered with this run's parameters (NULL: no key).
    Column("concurrency_key", Text),
    _created(),
    _updated(),
    CheckConstraint(
        f"(state_type IN {TERMINAL_SQL}) = (end_time IS NOT NULL)", name="end_time_iff_terminal"
    ),
    # A waiting run is waiting for a time; no other state has one.
    CheckConstraint(
        "(state_type = 'SCHEDULED') = (next_scheduled_start_time IS NOT NULL)",
        name="next_start_iff_scheduled",
    ),
    # A holder always has a lease. Not the converse: deleting a pool deletes its workers, which
    # sets worker_id NULL (ON DELETE SET NULL) and leaves the lease, so the reaper still
    # settles the run when it expires.
    CheckConstraint("worker_id IS NULL OR lease_expires_at IS NOT NULL", name="holder_has_lease"),
    # The claim: equality on the pool, then exactly the ORDER BY, partial on the waiting state.
    Index(
        "ix_flow_run_claim",
        "work_pool_id",
        "priority",
        "next_scheduled_start_time",
        "id",
        postgresql_where=text("state_type = 'SCHEDULED'"),
    ),
    # The reaper: runs holding a lease.
    Index(
        "ix_flow_run_lease",
        "lease_expires_at",
        postgresql_where=text("lease_expires_at IS NOT NULL"),
    ),
    # Concurrency limits of a pool, queue or deployment count the runs holding a slot.
    Index(
        "ix_flow_run_active",
        "work_pool_id",
        "work_queue_id",
        "deployment_id",
        "concurrency_key",
        postgresql_where=text(f"state_type IN {ACTIVE_SQL}"),
    ),
    # A worker's heartbeat finds the runs it holds.
    Index(
        "ix_flow_run_worker",
        "worker_id",
        postgresql_where=text("worker_id IS NOT NULL"),
    ),
    # Removing a schedule's not-yet-started runs; skipping its missed ones.
    Index(
        "ix_flow_run_schedule_waiting",
        "schedule_id",
        "expected_start_time",
        postgresql_where=text("state_type = 'SCHEDULED' AND auto_scheduled"),
    ),
    # Overdue waiting runs, across pools: the late-run marker and the missed-run skipper.
    Index(
        "ix_flow_run_waiting_start",
        "next_scheduled_start_time",
        postgresql_where=text("state_type = 'SCHEDULED'"),
    ),
    Index("ix_flow_run_created", "created", "id"),
    # The dashboard's runs table sorted by start, end or name: keyset pages on (key, id).
    Index("ix_flow_run_start_time", "start_time", "id"),
    Index("ix_flow_run_end_time", "end_time", "id"),
    Index("ix_flow_run_name", "name", "id"),
    Index("ix_flow_run_flow_created", "flow_id", "created"),
    Index("ix_flow_run_state_created", "state_type", "created"),
    Index("ix_flow_run_deployment_created", "deployment_id", "created"),
    Index(
        "ix_flow_run_parent_task_run",
        "parent_task_run_id",
        postgresql_where=text("parent_task_run_id IS NOT NULL"),
    ),
    Index("ix_flow_run_tags", "tags", postgresql_using="gin"),
    Index(
        "ix_flow_run_idempotency_key",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

flow_run_state = Table(
    "flow_run_state",
    metadata,
    _id(),
    _run_ref(),
    Column("type", state_type_enum, nullable=False),
    Column("name", Text, nullable=False),
    Column("message", Text),
    Column("timestamp", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("data", JSONB),
    # The worker whose attempt reported this state (the run's holder), if any: a heartbeat can
    # then tell a run that its own attempt ended from a run that was taken away from it.
    Column("reported_by_worker_id", UUID(as_uuid=True)),
    Index("ix_flow_run_state_run_timestamp", "flow_run_id", "timestamp"),
)

# One row per flow run state change, written by the statement that made it (queue/state_tail.py),
# in its transaction. Nothing reads it yet; events and automations will, and set processed_at.
event_outbox = Table(
    "event_outbox",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("occurred", DateTime(timezone=True), nullable=False),
    _run_ref(),
    Column("old_state_type", state_type_enum),  # NULL: the run was created in this state
    Column("old_state_name", Text),
    Column("new_state_type", state_type_enum, nullable=False),
    Column("new_state_name", Text, nullable=False),
    # What the NOTIFY of the change carried (queue/state_tail.py builds both).
    Column("payload", JSONB, nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    # Deleting a run (retention) deletes its events: the foreign key's cascade needs this index.
    Index("ix_event_outbox_flow_run_id", "flow_run_id"),
    # The relay (queue/event_outbox.py) takes what it has not turned into events yet.
    Index("ix_event_outbox_unprocessed", "id", postgresql_where=text("processed_at IS NULL")),
)

# Events in Prefect's shape (migration 0016). `seq`: arrival order (pages, the live stream);
# `id`: the event's own id, unique, so a batch sent twice is stored once.
event = Table(
    "event",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event", Text, nullable=False),
    Column("occurred", DateTime(timezone=True), nullable=False),
    Column("resource_id", Text, nullable=False),  # resource["headrace.resource.id"]
    Column("resource", JSONB, nullable=False),
    Column("related", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("related_ids", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("received", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_event_occurred", "occurred", "seq"),
    # Name prefixes (`LIKE 'prefix%'`) whatever the database's collation.
    Index("ix_event_name", "event", "occurred", postgresql_ops={"event": "text_pattern_ops"}),
    Index("ix_event_resource_id", "resource_id", "occurred"),
    Index("ix_event_related_ids", "related_ids", postgresql_using="gin"),
)

task_run = Table(
    "task_run",
    metadata,
    # Client-generated: the SDK names its task runs before the API has heard of them.
    Column("id", UUID(as_uuid=True), primary_key=True),
    _run_ref(),
    Column("name", Text, nullable=False),
    Column("task_key", Text, nullable=False),
    Column("dynamic_key", Text, nullable=False),
    _tags(),
    Column("run_count", Integer, nullable=False, server_default=text("0")),
    Column("state_type", state_type_enum, nullable=False),
    Column("state_name", Text, nullable=False),
    Column("state_message", Text),
    Column("state_timestamp", DateTime(timezone=True), nullable=False),
    Column("start_time", DateTime(timezone=True)),
    Column("end_time", DateTime(timezone=True)),
    # {"param": [{"id": task_run_id}, ...]}: the dependency edges drawn by the dashboard.
    Column("task_inputs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("cache_key", Text),
    _created(),
    Index("ix_task_run_flow_run_created", "flow_run_id", "created"),
    # A task run's stable identity; the SDK derives the id from it (engine/task_call.py).
    Index("uq_task_run_identity", "flow_run_id", "task_key", "dynamic_key", unique=True),
)

task_run_state = Table(
    "task_run_state",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "task_run_id",
        UUID(as_uuid=True),
        ForeignKey("task_run.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("type", state_type_enum, nullable=False),
    Column("name", Text, nullable=False),
    Column("message", Text),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("data", JSONB),
    Index("ix_task_run_state_run_timestamp", "task_run_id", "timestamp"),
)

log = Table(
    "log",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    # No foreign key: a key checks each inserted line on its own, the store checks a batch's
    # runs at once. Deleting a run deletes its lines by a trigger on flow_run (migration 0021).
    Column("flow_run_id", UUID(as_uuid=True), nullable=False),
    Column("task_run_id", UUID(as_uuid=True)),
    Column("level", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("message", Text, nullable=False),
    # The client's clock: what the line says happened when.
    Column("timestamp", DateTime(timezone=True), nullable=False),
    # The server's: retention goes by it, so a client's wrong clock cannot get fresh lines
    # deleted (migration 0011).
    Column("received", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_log_flow_run_timestamp", "flow_run_id", "timestamp", "id"),
    # Retention finds the lines older than its cutoff (a B-tree, not a BRIN: see migration 0006).
    Index("ix_log_received", "received"),
)

concurrency_limit = Table(
    "concurrency_limit",
    metadata,
    _id(),
    Column("tag", Text, nullable=False, unique=True),
    Column("limit", Integer, nullable=False),
    _created(),
    CheckConstraint('"limit" >= 0', name="limit_not_negative"),
)

concurrency_slot = Table(
    "concurrency_slot",
    metadata,
    _id(),
    Column(
        "concurrency_limit_id",
        UUID(as_uuid=True),
        ForeignKey("concurrency_limit.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("holder_id", UUID(as_uuid=True), nullable=False),
    Column("lease_expires_at", DateTime(timezone=True), nullable=False),
    _created(),
    UniqueConstraint("concurrency_limit_id", "holder_id", name="uq_concurrency_slot_holder"),
)

block_type = Table(
    "block_type",
    metadata,
    _id(),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("json_schema", JSONB, nullable=False),
    Column("description", Text),
    _created(),
    _updated(),
)

# A block's values: `data` holds them with every secret replaced by the mask (what read keys
# and the dashboard see); `encrypted_data`, when the type has secrets, all of them in clear,
# encrypted with the server's key (block_crypto.py).
block_document = Table(
    "block_document",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column(
        "block_type_id",
        UUID(as_uuid=True),
        ForeignKey("block_type.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("data", JSONB, nullable=False),
    Column("encrypted_data", LargeBinary),
    _created(),
    _updated(),
    UniqueConstraint("block_type_id", "name", name="uq_block_document_type_name"),
)

global_concurrency_limit = Table(
    "global_concurrency_limit",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("limit", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("slot_decay_per_second", Float, nullable=False, server_default=text("0")),
    _created(),
    _updated(),
    CheckConstraint('"limit" >= 0', name="limit_not_negative"),
    CheckConstraint("slot_decay_per_second >= 0", name="decay_not_negative"),
)

# A holder's slots of a limit: leased by `concurrency` (renewed while held), or, taken by
# `rate_limit`, expiring when decay has given them back.
global_concurrency_slot = Table(
    "global_concurrency_slot",
    metadata,
    _id(),
    Column(
        "limit_id",
        UUID(as_uuid=True),
        ForeignKey("global_concurrency_limit.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("holder_id", UUID(as_uuid=True), nullable=False),
    Column("occupy", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # Taken by `rate_limit`: never renewed nor released, gone when decayed.
    Column("decaying", Boolean, nullable=False, server_default=text("false")),
    _created(),
    UniqueConstraint("limit_id", "holder_id", name="uq_global_concurrency_slot_holder"),
)

# Holders refused a slot, in order of arrival: a limit serves its oldest waiter first. A
# waiter that stops asking again (its process died) expires and leaves the queue.
global_concurrency_waiter = Table(
    "global_concurrency_waiter",
    metadata,
    Column(
        "limit_id",
        UUID(as_uuid=True),
        ForeignKey("global_concurrency_limit.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("holder_id", UUID(as_uuid=True), primary_key=True),
    Column("occupy", Integer, nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

result = Table(
    "result",
    metadata,
    Column("key", Text, primary_key=True),
    Column("serializer", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    _created(),
)

code_bundle = Table(
    "code_bundle",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    _created(),
)

api_key = Table(
    "api_key",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("scope", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used", DateTime(timezone=True)),
    _created(),
    CheckConstraint("scope IN ('admin', 'worker', 'read')", name="known_scope"),
)

# Input sent to a flow run by another run or a program (`send_input` / `receive_input`), under
# a key unique within the run. Inputs of pauses are not here: they live in the run's states.
flow_run_input = Table(
    "flow_run_input",
    metadata,
    _id(),
    _run_ref(),
    Column("key", Text, nullable=False),
    Column("value", JSONB, nullable=False),
    Column("sender", Text),
    _created(),
    # One value per key and run; the receiver reads a run's inputs in the order they came
    # (created, id) after the last one it saw (and the cascade of a run's deletion).
    UniqueConstraint("flow_run_id", "key", name="uq_flow_run_input_key"),
    Index("ix_flow_run_input_run_created", "flow_run_id", "created", "id"),
)

artifact = Table(
    "artifact",
    metadata,
    _id(),
    # Keyed artifacts form a history under their key (the latest is the current one).
    Column("key", Text),
    # markdown | table | progress | image (a link is markdown, as in Prefect).
    Column("type", Text, nullable=False),
    Column("description", Text),
    Column("data", JSONB, nullable=False),
    # Deleting a run (retention) deletes its artifacts; an artifact made outside a run has none.
    Column("flow_run_id", UUID(as_uuid=True), ForeignKey("flow_run.id", ondelete="CASCADE")),
    # No foreign key: task runs reach the API in batches, often after their artifacts.
    Column("task_run_id", UUID(as_uuid=True)),
    _created(),
    _updated(),
    # A run's Artifacts tab, newest first (and the cascade of a run's deletion).
    Index("ix_artifact_flow_run_created", "flow_run_id", "created"),
    # A key's history, latest first; the Artifacts page lists the latest of each key.
    Index("ix_artifact_key_created", "key", "created", postgresql_where=text("key IS NOT NULL")),
)

variable = Table(
    "variable",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("value", JSONB, nullable=False),
    _tags(),
    _created(),
    _updated(),
)

# Automations (migration 0019): a trigger over events and the actions it runs (api/automations.py).
automation = Table(
    "automation",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("trigger", JSONB, nullable=False),
    Column("actions", JSONB, nullable=False),
    # Set for the automations a deployment's `triggers=` made: replaced on each deploy,
    # deleted with the deployment.
    Column("deployment_id", UUID(as_uuid=True), ForeignKey("deployment.id", ondelete="CASCADE")),
    _created(),
    _updated(),
    Index("ix_automation_deployment_id", "deployment_id"),
)

# Where the evaluator is in the event table: every event up to `last_seq` is evaluated, and so
# are the `done_seqs` above it. `gaps`: the seqs above it not seen yet (their transactions may
# still commit), each with a transaction id its transaction is older than (migration 0020).
automation_cursor = Table(
    "automation_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("done_seqs", ARRAY(BigInteger), nullable=False, server_default=text("'{}'::bigint[]")),
    Column("gaps", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("updated", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("id = 1", name="one_row"),
)

# A trigger's count for one `for_each` value (automations/triggers.py).
automation_bucket = Table(
    "automation_bucket",
    metadata,
    Column(
        "automation_id",
        UUID(as_uuid=True),
        ForeignKey("automation.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", Text, primary_key=True),
    Column("opened", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False, server_default=text("0")),
    Column("opener", JSONB),
)

# One row per firing; the unique idempotency key makes a firing happen once, whoever evaluates.
automation_firing = Table(
    "automation_firing",
    metadata,
    _id(),
    Column(
        "automation_id",
        UUID(as_uuid=True),
        ForeignKey("automation.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("fired", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("event", JSONB),
    # An automation's recent firings, newest first.
    Index("ix_automation_firing_automation_fired", "automation_id", "fired"),
)

# Each action of a firing, with its outcome; pending ones are what the executor takes.
automation_action = Table(
    "automation_action",
    metadata,
    Column(
        "firing_id",
        UUID(as_uuid=True),
        ForeignKey("automation_firing.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("index", Integer, primary_key=True),
    Column("type", Text, nullable=False),
    Column("action", JSONB, nullable=False),  # the definition when it fired
    Column("status", Text, nullable=False, server_default="pending"),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _updated(),
    CheckConstraint("status IN ('pending', 'running', 'executed', 'failed')", name="known_status"),
    Index(
        "ix_automation_action_pending",
        "updated",
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
)

# Inbound webhooks (migration 0019): POST /hooks/{slug} with the secret becomes an event.
webhook = Table(
    "webhook",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("secret_hash", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("received", BigInteger, nullable=False, server_default=text("0")),
    Column("rejected", BigInteger, nullable=False, server_default=text("0")),
    Column("last_received", DateTime(timezone=True)),
    _created(),
    _updated(),
)
