"""a schedule whose fire times cannot be computed keeps why

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

The scheduler skips such a schedule (and retries it later) instead of failing its whole pass;
the reason is shown on the deployment's page, in the API and counted in /metrics. A pass that
computes the schedule again clears it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('deployment_schedule', sa.Column('error', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('deployment_schedule', 'error')
