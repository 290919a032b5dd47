"""automations and inbound webhooks: triggers over events, their firings and actions' outcomes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

The evaluator's cursor starts at the newest stored event: automations react to what happens
from now on, not to the history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('automation',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('trigger', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('actions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('deployment_id', sa.UUID(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployment.id'], name=op.f('fk_automation_deployment_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation')),
    sa.UniqueConstraint('name', name=op.f('uq_automation_name'))
    )
    op.create_index('ix_automation_deployment_id', 'automation', ['deployment_id'], unique=False)
    op.create_table('automation_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('done_seqs', postgresql.ARRAY(sa.BigInteger()), server_default=sa.text("'{}'::bigint[]"), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_automation_cursor_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_cursor'))
    )
    op.create_table('webhook',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('slug', sa.Text(), nullable=False),
    sa.Column('secret_hash', sa.Text(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('received', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('rejected', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_received', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook')),
    sa.UniqueConstraint('name', name=op.f('uq_webhook_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_webhook_slug'))
    )
    op.create_table('automation_bucket',
    sa.Column('automation_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('opened', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('opener', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['automation_id'], ['automation.id'], name=op.f('fk_automation_bucket_automation_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('automation_id', 'key', name=op.f('pk_automation_bucket'))
    )
    op.create_table('automation_firing',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('automation_id', sa.UUID(), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('fired', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('event', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['automation_id'], ['automation.id'], name=op.f('fk_automation_firing_automation_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_firing')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_automation_firing_idempotency_key'))
    )
    op.create_index('ix_automation_firing_automation_fired', 'automation_firing', ['automation_id', 'fired'], unique=False)
    op.create_table('automation_action',
    sa.Column('firing_id', sa.UUID(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('action', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'running', 'executed', 'failed')", name=op.f('ck_automation_action_known_status')),
    sa.ForeignKeyConstraint(['firing_id'], ['automation_firing.id'], name=op.f('fk_automation_action_firing_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('firing_id', 'index', name=op.f('pk_automation_action'))
    )
    op.create_index('ix_automation_action_pending', 'automation_action', ['updated'], unique=False, postgresql_where=sa.text("status IN ('pending', 'running')"))
    op.execute(
        "INSERT INTO automation_cursor (id, last_seq) SELECT 1, coalesce(max(seq), 0) FROM event"
    )


def downgrade() -> None:
    op.drop_index('ix_automation_action_pending', table_name='automation_action', postgresql_where=sa.text("status IN ('pending', 'running')"))
    op.drop_table('automation_action')
    op.drop_index('ix_automation_firing_automation_fired', table_name='automation_firing')
    op.drop_table('automation_firing')
    op.drop_table('automation_bucket')
    op.drop_table('webhook')
    op.drop_table('automation_cursor')
    op.drop_index('ix_automation_deployment_id', table_name='automation')
    op.drop_table('automation')
