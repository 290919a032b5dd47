"""Migrations equal the models, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool, text

from headrace_service.db import sqlalchemy_url
from headrace_service.migrations import downgrade, is_current, upgrade
from headrace_service.models import metadata


def schema_differences(database_url: str) -> list[object]:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    return list(diff)


def table_names(database_url: str) -> set[str]:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        names = set(rows)
    engine.dispose()
    return names


def test_migrated_database_matches_the_models(database_url: str) -> None:
    assert is_current(database_url)
    assert schema_differences(database_url) == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    downgrade(database_url, "base")
    assert table_names(database_url) <= {"alembic_version"}
    assert not is_current(database_url)
    upgrade(database_url)
    assert schema_differences(database_url) == []
    assert "flow_run" in table_names(database_url)
