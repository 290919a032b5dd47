"""flow_run_state.reported_by_worker_id: which worker's attempt reported a state

A heartbeat names the runs a worker still supervises; one whose final state the worker's own
attempt reported is only exiting, not lost to another worker, and must not be killed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, whatever the size of the history.
    op.add_column(
        'flow_run_state',
        sa.Column('reported_by_worker_id', postgresql.UUID(as_uuid=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column('flow_run_state', 'reported_by_worker_id')
