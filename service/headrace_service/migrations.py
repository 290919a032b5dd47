"""Apply Alembic migrations from the server (on start, and `headrace server database upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from alembic import command
from headrace_service.db import sqlalchemy_url

# A fixed key: every API replica starting at once migrates one after the other.
MIGRATION_LOCK_KEY = 7_142_001


def alembic_config(database_url: str) -> Config:
    packaged = Path(__file__).parent / "_alembic"  # in a wheel (force-included)
    source_tree = Path(__file__).resolve().parents[2]  # editable install: the repo root
    base = packaged if (packaged / "env.py").exists() else source_tree / "alembic"
    config = Config()
    config.set_main_option("script_location", str(base))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    config = alembic_config(database_url)
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    config = alembic_config(database_url)
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
    engine.dispose()


def is_current(database_url: str) -> bool:
    """True when the database is at the newest revision (the readiness check)."""
    config = alembic_config(database_url)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    engine.dispose()
    return current == heads
