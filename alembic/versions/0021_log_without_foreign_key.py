"""log lines keep their run without a foreign key: a run's deletion deletes them by a trigger

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04

The foreign key of `log.flow_run_id` checked every inserted line on its own (one lookup of the
run per row): about 40 % of PostgreSQL's time per stored line while flows logged at full speed
(docs/benchmarks.md, "Log ingestion"). The API already checks a batch's runs once, with one
`SELECT ... FOR KEY SHARE` of all of them (store/logs.py), and leaves out the lines of runs that
do not exist; the lock keeps those runs from being deleted before the batch commits, which is
what the key guaranteed.

What the key's ON DELETE CASCADE did, a statement trigger on `flow_run` now does: after any
DELETE of runs (retention, a flow's or deployment's deletion cascading to its runs, a run
deleted through the API), one DELETE of the logs of all the deleted runs. A batch that locked
its runs first makes the deletion wait until it commits, and the trigger's statement then sees
its lines; a batch that comes after the deletion finds no run and stores nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint('fk_log_flow_run_id', 'log', type_='foreignkey')
    op.execute(
        """
        CREATE FUNCTION delete_logs_of_deleted_runs() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM log WHERE flow_run_id IN (SELECT id FROM deleted_runs);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER flow_run_deletes_logs AFTER DELETE ON flow_run
        REFERENCING OLD TABLE AS deleted_runs
        FOR EACH STATEMENT EXECUTE FUNCTION delete_logs_of_deleted_runs()
        """
    )


def downgrade() -> None:
    op.execute('DROP TRIGGER flow_run_deletes_logs ON flow_run')
    op.execute('DROP FUNCTION delete_logs_of_deleted_runs()')
    # The trigger leaves no line without its run; this is in case one was written by hand.
    op.execute('DELETE FROM log WHERE NOT EXISTS (SELECT FROM flow_run WHERE flow_run.id = log.flow_run_id)')
    op.create_foreign_key(
        'fk_log_flow_run_id', 'log', 'flow_run', ['flow_run_id'], ['id'], ondelete='CASCADE'
    )
