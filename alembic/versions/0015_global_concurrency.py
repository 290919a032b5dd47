"""global concurrency and rate limits: limits, leased slots, FIFO waiters

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'global_concurrency_limit',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('limit', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('slot_decay_per_second', sa.Float(), server_default=sa.text('0'), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('"limit" >= 0', name=op.f('ck_global_concurrency_limit_limit_not_negative')),
        sa.CheckConstraint('slot_decay_per_second >= 0', name=op.f('ck_global_concurrency_limit_decay_not_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_global_concurrency_limit')),
        sa.UniqueConstraint('name', name=op.f('uq_global_concurrency_limit_name')),
    )
    op.create_table(
        'global_concurrency_slot',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('limit_id', sa.UUID(), nullable=False),
        sa.Column('holder_id', sa.UUID(), nullable=False),
        sa.Column('occupy', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decaying', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['limit_id'], ['global_concurrency_limit.id'],
            name=op.f('fk_global_concurrency_slot_limit_id'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_global_concurrency_slot')),
        sa.UniqueConstraint('limit_id', 'holder_id', name='uq_global_concurrency_slot_holder'),
    )
    op.create_table(
        'global_concurrency_waiter',
        sa.Column('limit_id', sa.UUID(), nullable=False),
        sa.Column('holder_id', sa.UUID(), nullable=False),
        sa.Column('occupy', sa.Integer(), nullable=False),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['limit_id'], ['global_concurrency_limit.id'],
            name=op.f('fk_global_concurrency_waiter_limit_id'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('limit_id', 'holder_id', name=op.f('pk_global_concurrency_waiter')),
    )


def downgrade() -> None:
    op.drop_table('global_concurrency_waiter')
    op.drop_table('global_concurrency_slot')
    op.drop_table('global_concurrency_limit')
