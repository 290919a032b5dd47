"""deployment concurrency key: the template on the deployment, its value on each run

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("state_type IN ('PENDING', 'RUNNING', 'CANCELLING')")


def upgrade() -> None:
    op.add_column('deployment', sa.Column('concurrency_key', sa.Text(), nullable=True))
    op.add_column('flow_run', sa.Column('concurrency_key', sa.Text(), nullable=True))
    # The claim counts active runs per (deployment, key value): the key joins the index the
    # counts already read, so they stay index-only.
    op.drop_index('ix_flow_run_active', table_name='flow_run', postgresql_where=_ACTIVE)
    op.create_index(
        'ix_flow_run_active',
        'flow_run',
        ['work_pool_id', 'work_queue_id', 'deployment_id', 'concurrency_key'],
        unique=False,
        postgresql_where=_ACTIVE,
    )


def downgrade() -> None:
    op.drop_index('ix_flow_run_active', table_name='flow_run', postgresql_where=_ACTIVE)
    op.create_index(
        'ix_flow_run_active',
        'flow_run',
        ['work_pool_id', 'work_queue_id', 'deployment_id'],
        unique=False,
        postgresql_where=_ACTIVE,
    )
    op.drop_column('flow_run', 'concurrency_key')
    op.drop_column('deployment', 'concurrency_key')
