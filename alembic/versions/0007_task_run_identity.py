"""a task run's stable identity: (flow run, task key, dynamic key) is unique

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

The SDK derives a task run's id from this identity, so an attempt of a flow run that reaches the
same call again reports the same task run. Before, ids were random and dynamic keys did not
restart with a new attempt in the same process, but did in a new process (a worker's retry): such
older rows can share an identity. All but the newest of each group get their id appended to
their dynamic key, so nothing is deleted and the index can be built.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE task_run t SET dynamic_key = t.dynamic_key || '~' || t.id::text
        FROM (
            SELECT id, row_number() OVER (
                PARTITION BY flow_run_id, task_key, dynamic_key ORDER BY created DESC, id DESC
            ) AS newest_first
            FROM task_run
        ) d
        WHERE d.id = t.id AND d.newest_first > 1
        """
    )
    op.create_index(
        'uq_task_run_identity',
        'task_run',
        ['flow_run_id', 'task_key', 'dynamic_key'],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index('uq_task_run_identity', table_name='task_run')
