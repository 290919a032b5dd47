"""event: events in Prefect's shape (state changes, resource changes, emitted by flows)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

`seq` orders events by arrival (keyset pages, the live stream's cursor); `id` is the event's own
id (client-made, unique, so a batch sent twice is stored once). `resource_id` and `related_ids`
are copied out of the JSON so that the common filters use plain btree / GIN indexes.
The outbox relay (queue/event_outbox.py) takes unprocessed outbox rows through a partial index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'event',
        sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('event', sa.Text(), nullable=False),
        sa.Column('occurred', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resource_id', sa.Text(), nullable=False),
        sa.Column('resource', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            'related',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            'related_ids',
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column(
            'payload',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            'received', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_event')),
        sa.UniqueConstraint('id', name=op.f('uq_event_id')),
    )
    op.create_index('ix_event_occurred', 'event', ['occurred', 'seq'])
    op.create_index(
        'ix_event_name',
        'event',
        ['event', 'occurred'],
        postgresql_ops={'event': 'text_pattern_ops'},
    )
    op.create_index('ix_event_resource_id', 'event', ['resource_id', 'occurred'])
    op.create_index(
        'ix_event_related_ids', 'event', ['related_ids'], postgresql_using='gin'
    )
    op.create_index(
        'ix_event_outbox_unprocessed',
        'event_outbox',
        ['id'],
        postgresql_where=sa.text('processed_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_event_outbox_unprocessed', table_name='event_outbox')
    op.drop_table('event')
