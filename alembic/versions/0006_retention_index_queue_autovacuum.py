"""index of log lines by timestamp, for retention; flow_run vacuumed after a fixed number of
changed rows, whatever the size of its history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Retention deletes `log` rows older than a cutoff, oldest ids first. Without an index on
`timestamp`, every pass's last batch (the one that finds fewer rows than it asks for) reads the
whole table: 0.6-0.75 s and 1.2 GB of reads per pass with 10,000,000 lines (bench/growth.py).
A B-tree, not a BRIN: once retention has deleted old lines, vacuum lets new lines reuse their
pages, BRIN ranges keep their stale minimum and the scan grows back towards the whole table.

0001 had autovacuum start on flow_run after 500 + 1 % of its rows changed. Finished runs stay
in the table (run retention is off by default), so that bound grows with the history: with
1,000,000 finished runs, 12 runs/s of churn left 10,760 dead tuples and no vacuum after 5
minutes. A fixed threshold (scale factor 0) keeps the dead tuples at what one autovacuum
interval (autovacuum_naptime, 1 min) of churn leaves, with or without history (bench/soak.py;
docs/operations.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_log_timestamp', 'log', ['timestamp'], unique=False)
    op.execute(
        "ALTER TABLE flow_run SET (autovacuum_vacuum_scale_factor = 0, "
        "autovacuum_vacuum_threshold = 1000)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE flow_run SET (autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_vacuum_threshold = 500)"
    )
    op.drop_index('ix_log_timestamp', table_name='log')
