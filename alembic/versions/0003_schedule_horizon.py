"""schedule horizon; indexes of the scheduler, the late-run marker and missed-run skipping

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'deployment_schedule',
        sa.Column('materialized_until', sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        'deployment_schedule',
        sa.Column('refill_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        'ix_flow_run_schedule_waiting',
        'flow_run',
        ['schedule_id', 'expected_start_time'],
        unique=False,
        postgresql_where=sa.text("state_type = 'SCHEDULED' AND auto_scheduled"),
    )
    op.create_index(
        'ix_flow_run_waiting_start',
        'flow_run',
        ['next_scheduled_start_time'],
        unique=False,
        postgresql_where=sa.text("state_type = 'SCHEDULED'"),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_flow_run_waiting_start',
        table_name='flow_run',
        postgresql_where=sa.text("state_type = 'SCHEDULED'"),
    )
    op.drop_index(
        'ix_flow_run_schedule_waiting',
        table_name='flow_run',
        postgresql_where=sa.text("state_type = 'SCHEDULED' AND auto_scheduled"),
    )
    op.drop_column('deployment_schedule', 'refill_at')
    op.drop_column('deployment_schedule', 'materialized_until')
