"""Alembic environment: runs on the connection ``semingest_worker.database.migrate`` hands in.

There is no ``alembic.ini``: ``migrate.alembic_config`` builds the configuration in code and puts
the open connection (already holding the migration lock) in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from semingest_worker.database import schema

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=schema.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
