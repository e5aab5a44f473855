"""Alembic environment: always runs on a connection handed in by snapfolio.core.database."""

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
connection.execute(text("create schema if not exists raw"))
context.configure(connection=connection, version_table_schema="raw", include_schemas=True)
with context.begin_transaction():
    context.run_migrations()
