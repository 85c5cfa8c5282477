"""Alembic environment: uses the connection handed over by batch_pipelines.db.migrate."""

from alembic import context

from batch_pipelines.db.migrate import VERSION_TABLE
from batch_pipelines.db.tables import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
