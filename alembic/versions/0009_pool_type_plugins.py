"""workers announce their pool type and the JSON schema of its job variables

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Pool types are plug-ins found by entry point on the worker's host; the service keeps no list of
them. A worker says which type it runs, and the schema of the job variables its plug-in reads,
when it registers; both are stored on its row (null for a worker that did not say).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('worker', sa.Column('pool_type', sa.Text(), nullable=True))
    op.add_column('worker', sa.Column('job_variables_schema', JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column('worker', 'job_variables_schema')
    op.drop_column('worker', 'pool_type')
