"""Alembic environment: migrations run over a sync psycopg connection."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from headrace_service.db import sqlalchemy_url
from headrace_service.models import metadata

config = context.config
url = config.attributes.get("database_url") or os.environ.get("HEADRACE_DATABASE_URL")
if not url:
    raise SystemExit("set HEADRACE_DATABASE_URL to the database to migrate")


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
