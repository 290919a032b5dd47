"""event_outbox: one row per flow run state change; CHECKs on flow_run's waiting and lease columns

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Every statement that changes a flow run's state ends in one SQL tail (queue/state_tail.py) that
writes the history row, a row here and the NOTIFY, in the statement's own transaction. Nothing
reads the outbox yet: events and automations will (one reader, marking `processed_at`).

Two invariants every writer keeps (queue/state_columns.py derives both columns from the new
state): a run waits for a time if and only if it is SCHEDULED, and a run held by a worker has a
lease. Rows written by older code that break them are repaired first, the way the code writes
them now, so that the upgrade cannot fail on them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_TYPE = postgresql.ENUM(name='state_type', create_type=False)


def upgrade() -> None:
    op.create_table(
        'event_outbox',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column('occurred', sa.DateTime(timezone=True), nullable=False),
        sa.Column('flow_run_id', sa.UUID(), nullable=False),
        sa.Column('old_state_type', STATE_TYPE, nullable=True),
        sa.Column('old_state_name', sa.Text(), nullable=True),
        sa.Column('new_state_type', STATE_TYPE, nullable=False),
        sa.Column('new_state_name', sa.Text(), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['flow_run_id'],
            ['flow_run.id'],
            name=op.f('fk_event_outbox_flow_run_id'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_outbox')),
    )
    op.create_index('ix_event_outbox_flow_run_id', 'event_outbox', ['flow_run_id'], unique=False)
    op.execute(
        "UPDATE flow_run SET next_scheduled_start_time = NULL "
        "WHERE state_type <> 'SCHEDULED' AND next_scheduled_start_time IS NOT NULL"
    )
    op.execute(
        "UPDATE flow_run SET next_scheduled_start_time = coalesce(expected_start_time, "
        "state_timestamp) WHERE state_type = 'SCHEDULED' AND next_scheduled_start_time IS NULL"
    )
    op.execute(
        "UPDATE flow_run SET worker_id = NULL "
        "WHERE worker_id IS NOT NULL AND lease_expires_at IS NULL"
    )
    op.create_check_constraint(
        op.f('ck_flow_run_next_start_iff_scheduled'),
        'flow_run',
        "(state_type = 'SCHEDULED') = (next_scheduled_start_time IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f('ck_flow_run_holder_has_lease'),
        'flow_run',
        'worker_id IS NULL OR lease_expires_at IS NOT NULL',
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_flow_run_holder_has_lease'), 'flow_run', type_='check')
    op.drop_constraint(op.f('ck_flow_run_next_start_iff_scheduled'), 'flow_run', type_='check')
    op.drop_index('ix_event_outbox_flow_run_id', table_name='event_outbox')
    op.drop_table('event_outbox')
