"""indexes of the dashboard's sortable flow-runs table: start time, end time, name

Each is `(key, id)`, the order of a keyset page sorted by that key (id breaks ties), so any page
of the table is an index range scan whatever the sort. `created` already has one
(ix_flow_run_created).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    'ix_flow_run_start_time': ['start_time', 'id'],
    'ix_flow_run_end_time': ['end_time', 'id'],
    'ix_flow_run_name': ['name', 'id'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'flow_run', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='flow_run')
