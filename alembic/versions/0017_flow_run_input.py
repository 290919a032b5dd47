"""flow run inputs: values sent to a run (send_input / receive_input)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'flow_run_input',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('flow_run_id', sa.UUID(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('sender', sa.Text(), nullable=True),
        sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['flow_run_id'], ['flow_run.id'],
            name=op.f('fk_flow_run_input_flow_run_id'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_run_input')),
        sa.UniqueConstraint('flow_run_id', 'key', name='uq_flow_run_input_key'),
    )
    op.create_index(
        'ix_flow_run_input_run_created', 'flow_run_input', ['flow_run_id', 'created', 'id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_flow_run_input_run_created', table_name='flow_run_input')
    op.drop_table('flow_run_input')
