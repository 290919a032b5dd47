"""log lines kept by the time the server received them, not by the client's clock

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Retention deleted log lines by `timestamp`, which the client's clock sets: a worker whose clock
was 31 days behind had its fresh lines deleted at the next pass. `received` is set by the
database (default now()), so writers need no change; retention now scans it, through its own
index, and the `timestamp` index (used only by retention) goes.

now() is evaluated once by ADD COLUMN, so the table is not rewritten: lines stored before this
revision read the upgrade's time, and are kept the retention period from then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'log',
        sa.Column(
            'received', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
    )
    op.create_index('ix_log_received', 'log', ['received'], unique=False)
    op.drop_index('ix_log_timestamp', table_name='log')


def downgrade() -> None:
    op.create_index('ix_log_timestamp', 'log', ['timestamp'], unique=False)
    op.drop_index('ix_log_received', table_name='log')
    op.drop_column('log', 'received')
