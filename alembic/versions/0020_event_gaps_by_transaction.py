"""event gaps by transaction: the evaluator waits for a slow transaction instead of a grace

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04

`seq` is given when a row is inserted and seen when its transaction commits, so events can
commit out of `seq` order, and a seq whose insert rolled back is never seen. The automations'
evaluator (automations/evaluator.py) passes such a gap only once every transaction that could
still fill it has ended. For that it must know that the transaction that took a seq already had
its id then: a statement trigger gives each inserting transaction its id before the first row's
`seq` is drawn. `automation_cursor.gaps` holds, per gap, a transaction id the gap's own
transaction is older than.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'automation_cursor',
        sa.Column(
            'gaps',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.execute(
        """
        CREATE FUNCTION event_take_xact_id() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_current_xact_id();
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER event_take_xact_id BEFORE INSERT ON event "
        "FOR EACH STATEMENT EXECUTE FUNCTION event_take_xact_id()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER event_take_xact_id ON event")
    op.execute("DROP FUNCTION event_take_xact_id()")
    op.drop_column('automation_cursor', 'gaps')
