"""deployment retries; index of active runs for concurrency limits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'deployment',
        sa.Column('max_retries', sa.Integer(), server_default=sa.text('0'), nullable=False),
    )
    op.add_column(
        'deployment',
        sa.Column(
            'retry_delay_seconds', sa.Float(), server_default=sa.text('0'), nullable=False
        ),
    )
    op.create_index(
        'ix_flow_run_active',
        'flow_run',
        ['work_pool_id', 'work_queue_id', 'deployment_id'],
        unique=False,
        postgresql_where=sa.text("state_type IN ('PENDING', 'RUNNING', 'CANCELLING')"),
    )
    op.create_index(
        'ix_flow_run_worker',
        'flow_run',
        ['worker_id'],
        unique=False,
        postgresql_where=sa.text('worker_id IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_flow_run_worker',
        table_name='flow_run',
        postgresql_where=sa.text('worker_id IS NOT NULL'),
    )
    op.drop_index(
        'ix_flow_run_active',
        table_name='flow_run',
        postgresql_where=sa.text("state_type IN ('PENDING', 'RUNNING', 'CANCELLING')"),
    )
    op.drop_column('deployment', 'retry_delay_seconds')
    op.drop_column('deployment', 'max_retries')
