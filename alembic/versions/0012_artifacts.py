"""artifacts: markdown, tables, links, progress and images published by runs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

An artifact belongs to the flow run that made it (deleted with it, so retention needs no pass
of its own) and names its task run without a foreign key (task runs arrive in batches, often
after their artifacts). Keyed artifacts keep their history under the key, latest first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'artifact',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('key', sa.Text(), nullable=True),
        sa.Column('type', sa.Text(), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('flow_run_id', sa.UUID(), nullable=True),
        sa.Column('task_run_id', sa.UUID(), nullable=True),
        sa.Column(
            'created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.Column(
            'updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ['flow_run_id'],
            ['flow_run.id'],
            name=op.f('fk_artifact_flow_run_id'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact')),
    )
    op.create_index(
        'ix_artifact_flow_run_created', 'artifact', ['flow_run_id', 'created'], unique=False
    )
    op.create_index(
        'ix_artifact_key_created',
        'artifact',
        ['key', 'created'],
        unique=False,
        postgresql_where=sa.text('key IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_artifact_key_created',
        table_name='artifact',
        postgresql_where=sa.text('key IS NOT NULL'),
    )
    op.drop_index('ix_artifact_flow_run_created', table_name='artifact')
    op.drop_table('artifact')
